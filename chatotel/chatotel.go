// Package chatotel traces a chat.Service with OpenTelemetry.
//
// A Tracer gives the Service a span per REST request, per Store call, per
// Broker publication and per notification received from another node. The
// trace context travels inside Broker payloads, so one trace shows a send
// on one node and its delivery on every other node:
//
//	svc, err := chat.New(chat.Config{
//		Store:  store,
//		Broker: broker,
//		Tracer: chatotel.New(chatotel.Config{}), // the global TracerProvider
//	})
//
// Span kinds follow OpenTelemetry's conventions: server for REST requests,
// client for Store calls, producer for publications, consumer for received
// notifications.
package chatotel

import (
	"context"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/embedchat/chat"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/embedchat/chat"

// Config configures a Tracer. The zero value uses OpenTelemetry's globals.
type Config struct {
	// TracerProvider makes the tracer. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator carries trace contexts between nodes. Nil means W3C
	// Trace Context and Baggage.
	Propagator propagation.TextMapPropagator
}

// Tracer implements chat.Tracer with OpenTelemetry.
type Tracer struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

var _ chat.Tracer = (*Tracer)(nil)

// New returns a Tracer for chat.Config.Tracer.
func New(cfg Config) *Tracer {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return &Tracer{tracer: tp.Tracer(ScopeName), propagator: prop}
}

// Start implements chat.Tracer.
func (t *Tracer) Start(ctx context.Context, name string, attrs ...slog.Attr) (context.Context, func(error, ...slog.Attr)) {
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(kindOf(name)), trace.WithAttributes(convert(attrs)...))
	return ctx, func(err error, attrs ...slog.Attr) {
		if len(attrs) > 0 {
			span.SetAttributes(convert(attrs)...)
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// Inject implements chat.Tracer.
func (t *Tracer) Inject(ctx context.Context) map[string]string {
	carrier := propagation.MapCarrier{}
	t.propagator.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return nil
	}
	return carrier
}

// Extract implements chat.Tracer.
func (t *Tracer) Extract(ctx context.Context, fields map[string]string) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	return t.propagator.Extract(ctx, propagation.MapCarrier(fields))
}

// kindOf maps the Service's span names to span kinds: "chat.store.*"
// calls a backend, "chat.publish" produces a notification, "chat.deliver"
// consumes one, and anything else ("GET /chats", ...) serves a request.
func kindOf(name string) trace.SpanKind {
	switch {
	case strings.HasPrefix(name, "chat.store."):
		return trace.SpanKindClient
	case name == "chat.publish":
		return trace.SpanKindProducer
	case name == "chat.deliver":
		return trace.SpanKindConsumer
	}
	return trace.SpanKindServer
}

func convert(attrs []slog.Attr) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			out = append(out, attribute.String(a.Key, v.String()))
		case slog.KindInt64:
			out = append(out, attribute.Int64(a.Key, v.Int64()))
		case slog.KindUint64:
			out = append(out, attribute.Int64(a.Key, int64(v.Uint64())))
		case slog.KindBool:
			out = append(out, attribute.Bool(a.Key, v.Bool()))
		case slog.KindFloat64:
			out = append(out, attribute.Float64(a.Key, v.Float64()))
		default:
			out = append(out, attribute.String(a.Key, v.String()))
		}
	}
	return out
}
