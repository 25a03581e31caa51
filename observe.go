package chat

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Observer receives measurements from a Service: what its REST handler
// answered, how long its Store took, what it delivered and dropped. It is
// how operators see a node without the root package depending on a metrics
// library: package chatprom turns observations into Prometheus metrics.
//
// Observe is called synchronously, on hot paths and from many goroutines.
// It must be safe for concurrent use, must return quickly without blocking,
// and must not call back into the Service. New observation types may be
// added in later versions: ignore the ones you do not know.
type Observer interface {
	Observe(o Observation)
}

// Observation is one of the measurement types of this package whose names
// end in Observed: HTTPRequestObserved, StoreCallObserved, and so on.
type Observation interface {
	observation()
}

// HTTPRequestObserved reports a request answered by the REST handler.
type HTTPRequestObserved struct {
	// Route is the route's pattern, such as "/chats/{chat_id}/messages",
	// or "unmatched" for paths outside the API. It never holds ids.
	Route    string
	Method   string
	Status   int
	Duration time.Duration
}

// StoreCallObserved reports one call of a Store method made by the Service.
type StoreCallObserved struct {
	// Method is the Store method's name, such as "AppendMessage".
	Method   string
	Duration time.Duration
	// Err is the call's error, nil on success. ErrNotFound and other
	// answers about the data count as errors here too.
	Err error
}

// MessageStoredObserved reports a message sent through the Service, from
// the start of SendMessage to the Store's answer: the send latency a user
// waits for before the message is durable.
type MessageStoredObserved struct {
	Duration time.Duration
	// Created is false for a retry that returned the original message.
	Created bool
}

// EventDeliveredObserved reports an event handed to a WebSocket client.
type EventDeliveredObserved struct {
	Type EventType
	// Replayed is true for events read from the Store during a resume or
	// a join, false for live ones.
	Replayed bool
	// Delay is the time from the event's publication, on whichever node
	// sent it, to the write of its frame; 0 when unknown (events read
	// from the Store). Clocks of different nodes may disagree by their
	// skew.
	Delay time.Duration
}

// EventDroppedObserved reports an event the node did not deliver on
// purpose: an ephemeral event (typing, read) to a reader whose queue was
// full, or a notification the node could not queue for the Broker. Stored
// events dropped this way are recovered from the Store.
type EventDroppedObserved struct {
	Type EventType
	// Reason says why: "queue_full" for a reader's queue, "resuming" for
	// a reader still replaying the chat, "publish_queue_full" for the
	// node's queue of Broker publications, "publish_failed" for a typing
	// or read notification the Broker refused (never retried), "shutdown"
	// for one still queued when the Service shut down.
	Reason string
}

// ConnectionClosedObserved reports a subscription (a WebSocket connection)
// that ended, and why: "client" when the client went away or closed it,
// "slow_consumer", "shutdown", "unavailable" (the Store failed during the
// resume), "error" for anything else.
type ConnectionClosedObserved struct {
	Reason string
}

// ResyncObserved reports a resync event sent to a reader instead of a
// replay, because the chat was too far behind or the position was unknown.
type ResyncObserved struct{}

// BrokerLossObserved reports topics the Broker said it may have lost
// notifications of (HandleLost): each makes the node read the Store.
type BrokerLossObserved struct {
	Topics int
}

// RefillObserved reports events a node read from the Store to repair what
// the Broker dropped, reordered or lost.
type RefillObserved struct {
	Events int
}

// RateLimitedObserved reports a request refused by a rate limit; Action is
// the limit's name, such as "send" or "create_chat".
type RateLimitedObserved struct {
	Action string
}

// HookRejectedObserved reports a request a hook refused: "BeforeSend" with
// Reject, or "Authorize" with Deny.
type HookRejectedObserved struct {
	Hook string
}

func (HTTPRequestObserved) observation()      {}
func (StoreCallObserved) observation()        {}
func (MessageStoredObserved) observation()    {}
func (EventDeliveredObserved) observation()   {}
func (EventDroppedObserved) observation()     {}
func (ConnectionClosedObserved) observation() {}
func (ResyncObserved) observation()           {}
func (BrokerLossObserved) observation()       {}
func (RefillObserved) observation()           {}
func (RateLimitedObserved) observation()      {}
func (HookRejectedObserved) observation()     {}

// Tracer starts the spans of a Service's work: one per REST request, one
// per Store call, one per Broker publication, and one per notification a
// node receives, whose parent is the sender's span: the trace context
// travels inside Broker payloads, so one trace shows a send on one node and
// its delivery on another. Package chatotel implements it with
// OpenTelemetry. Methods must be safe for concurrent use.
type Tracer interface {
	// Start begins a span named name, a child of the span in ctx, and
	// returns a context carrying it and the function that ends it. The
	// function must be called exactly once, with the operation's error
	// (nil on success) and any attributes learnt meanwhile.
	Start(ctx context.Context, name string, attrs ...slog.Attr) (context.Context, func(err error, attrs ...slog.Attr))
	// Inject returns the trace context of ctx as text fields to carry in
	// a notification, or nil if there is none.
	Inject(ctx context.Context) map[string]string
	// Extract returns ctx with the remote trace context held in fields,
	// as made by Inject on another node.
	Extract(ctx context.Context, fields map[string]string) context.Context
}

// observe hands o to the Observer, if there is one.
func (s *Service) observe(o Observation) {
	if s.observer != nil {
		s.observer.Observe(o)
	}
}

// startSpan starts a span with the Tracer, or does nothing without one.
func (s *Service) startSpan(ctx context.Context, name string, attrs ...slog.Attr) (context.Context, func(error, ...slog.Attr)) {
	if s.tracer == nil {
		return ctx, endNoSpan
	}
	return s.tracer.Start(ctx, name, attrs...)
}

func endNoSpan(error, ...slog.Attr) {}

// observedHandler measures the REST handler's requests for the Observer
// and wraps each in a span of the Tracer.
type observedHandler struct {
	h *restHandler
}

func (o observedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := o.h.svc
	start := time.Now()
	route := o.h.routeName(r)
	ctx, end := s.startSpan(r.Context(), r.Method+" "+route,
		slog.String("http.request.method", r.Method), slog.String("http.route", route))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	o.h.ServeHTTP(rec, r.WithContext(ctx))
	var err error
	if rec.status >= 500 {
		err = fmt.Errorf("chat: %s %s answered %d", r.Method, route, rec.status)
	}
	end(err, slog.Int("http.response.status_code", rec.status))
	s.observe(HTTPRequestObserved{Route: route, Method: r.Method, Status: rec.status, Duration: time.Since(start)})
}

// routeName is the pattern of the route r asks for, without ids, or
// "unmatched".
func (h *restHandler) routeName(r *http.Request) string {
	segs, ok := h.route(r)
	if !ok {
		return "unmatched"
	}
	if segs[0] == "search" {
		return "/search"
	}
	if segs[0] == "blocks" {
		if len(segs) == 2 {
			return "/blocks/{user_id}"
		}
		return "/blocks"
	}
	switch len(segs) {
	case 1:
		return "/chats"
	case 2:
		return "/chats/{chat_id}"
	case 3:
		switch segs[2] {
		case "messages", "read", "members", "bans", "settings", "attachments":
			return "/chats/{chat_id}/" + segs[2]
		}
	case 4:
		switch segs[2] {
		case "messages":
			return "/chats/{chat_id}/messages/{seq}"
		case "members", "bans":
			return "/chats/{chat_id}/" + segs[2] + "/{user_id}"
		case "attachments":
			return "/chats/{chat_id}/attachments/{attachment_id}"
		}
	}
	return "unmatched"
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	written bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.written {
		r.status, r.written = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
