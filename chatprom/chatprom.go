// Package chatprom exposes a chat.Service's measurements as Prometheus
// metrics.
//
// A Metrics is both the chat.Observer the Service reports to and the
// prometheus.Collector the host registers: nothing is registered globally.
//
//	m := chatprom.New()
//	svc, err := chat.New(chat.Config{Store: store, Broker: broker, Observer: m})
//	...
//	m.Watch(svc) // gauges: connections, subscriptions, streams, topics
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Names follow Prometheus conventions (chat_<thing>_<unit>, _total for
// counters, _seconds for durations). Labels are bounded: routes, methods,
// statuses, event types and reasons; never user ids or chat ids.
package chatprom

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/embedchat/chat"
)

// Metrics collects a Service's metrics. It implements chat.Observer and
// prometheus.Collector, and is safe for concurrent use.
type Metrics struct {
	svc atomic.Pointer[chat.Service]

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	storeDuration  *prometheus.HistogramVec
	storeErrors    *prometheus.CounterVec
	sendDuration   prometheus.Histogram
	delivered      *prometheus.CounterVec
	deliveryDelay  prometheus.Histogram
	dropped        *prometheus.CounterVec
	closed         *prometheus.CounterVec
	resyncs        prometheus.Counter
	brokerLost     prometheus.Counter
	refilled       prometheus.Counter
	rateLimited    *prometheus.CounterVec
	hookRejections *prometheus.CounterVec

	connections   *prometheus.Desc
	subscriptions *prometheus.Desc
	users         *prometheus.Desc
	streams       *prometheus.Desc
	brokerTopics  *prometheus.Desc
	queued        *prometheus.Desc
	maxQueued     *prometheus.Desc
	backlog       *prometheus.Desc
	draining      *prometheus.Desc
}

var (
	_ chat.Observer        = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

// latencyBuckets span a fast in-memory call to a slow database round trip.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the metrics of one Service. Pass it as chat.Config.Observer,
// call Watch with the Service for the gauges, and register it.
func New() *Metrics {
	return &Metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_http_requests_total",
			Help: "REST requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chat_http_request_duration_seconds",
			Help:    "Time to answer a REST request, by route pattern and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chat_store_call_duration_seconds",
			Help:    "Duration of Store calls, by Store method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_store_errors_total",
			Help: "Store calls that failed, by Store method and kind (unavailable, not_found, other).",
		}, []string{"method", "kind"}),
		sendDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chat_send_duration_seconds",
			Help:    "Time from the start of a send to the message being stored.",
			Buckets: latencyBuckets,
		}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_events_delivered_total",
			Help: "Events written to WebSocket clients, by event type and whether they were replayed from the Store.",
		}, []string{"type", "replayed"}),
		deliveryDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chat_delivery_delay_seconds",
			Help:    "Time from an event's publication on any node to its write to a WebSocket client (live events).",
			Buckets: latencyBuckets,
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_events_dropped_total",
			Help: "Events not delivered on purpose, by event type and reason; stored ones are recovered from the Store.",
		}, []string{"type", "reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_connections_closed_total",
			Help: "Subscriptions (WebSocket connections) that ended, by reason: client, slow_consumer, shutdown, unavailable, error.",
		}, []string{"reason"}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_resyncs_total",
			Help: "Resync events sent instead of a replay.",
		}),
		brokerLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_broker_lost_topics_total",
			Help: "Topics the Broker reported it may have lost notifications of.",
		}),
		refilled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_refilled_events_total",
			Help: "Events read from the Store to repair what the Broker dropped, reordered or lost.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_rate_limited_total",
			Help: "Requests refused by a per-user rate limit, by limit.",
		}, []string{"action"}),
		hookRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_hook_rejections_total",
			Help: "Requests refused by a hook (BeforeSend with Reject, Authorize with Deny).",
		}, []string{"hook"}),

		connections:   prometheus.NewDesc("chat_connections", "WebSocket connections being served.", nil, nil),
		subscriptions: prometheus.NewDesc("chat_subscriptions", "Live subscriptions on this node.", nil, nil),
		users:         prometheus.NewDesc("chat_connected_users", "Users with at least one subscription on this node.", nil, nil),
		streams:       prometheus.NewDesc("chat_streams", "Chats this node follows for its subscriptions.", nil, nil),
		brokerTopics:  prometheus.NewDesc("chat_broker_topics", "Topics subscribed at the Broker.", nil, nil),
		queued:        prometheus.NewDesc("chat_queued_events", "Events waiting in subscriptions' queues for their readers.", nil, nil),
		maxQueued:     prometheus.NewDesc("chat_max_queued_events", "The longest subscription queue.", nil, nil),
		backlog:       prometheus.NewDesc("chat_stream_backlog", "Notifications waiting for this node's per-chat streams.", nil, nil),
		draining:      prometheus.NewDesc("chat_draining", "1 once Shutdown has started, else 0.", nil, nil),
	}
}

// Watch makes the gauges read svc's Stats at each scrape. Until it is
// called, the gauges are not reported.
func (m *Metrics) Watch(svc *chat.Service) { m.svc.Store(svc) }

func (m *Metrics) vectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.httpRequests, m.httpDuration, m.storeDuration, m.storeErrors, m.sendDuration,
		m.delivered, m.deliveryDelay, m.dropped, m.closed, m.resyncs, m.brokerLost,
		m.refilled, m.rateLimited, m.hookRejections,
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vectors() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.connections, m.subscriptions, m.users, m.streams, m.brokerTopics, m.queued, m.maxQueued, m.backlog, m.draining} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.vectors() {
		c.Collect(ch)
	}
	svc := m.svc.Load()
	if svc == nil {
		return
	}
	st := svc.Stats()
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	gauge(m.connections, st.Connections)
	gauge(m.subscriptions, st.Subscriptions)
	gauge(m.users, len(st.UserSubscriptions))
	gauge(m.streams, st.Streams)
	gauge(m.brokerTopics, st.BrokerTopics)
	gauge(m.queued, st.QueuedEvents)
	gauge(m.maxQueued, st.MaxQueuedEvents)
	gauge(m.backlog, st.StreamBacklog)
	draining := 0
	if st.Draining {
		draining = 1
	}
	gauge(m.draining, draining)
}

// Observe implements chat.Observer.
func (m *Metrics) Observe(o chat.Observation) {
	switch o := o.(type) {
	case chat.HTTPRequestObserved:
		method := methodLabel(o.Method)
		m.httpRequests.WithLabelValues(o.Route, method, strconv.Itoa(o.Status)).Inc()
		m.httpDuration.WithLabelValues(o.Route, method).Observe(o.Duration.Seconds())
	case chat.StoreCallObserved:
		m.storeDuration.WithLabelValues(o.Method).Observe(o.Duration.Seconds())
		if o.Err != nil {
			m.storeErrors.WithLabelValues(o.Method, errorKind(o.Err)).Inc()
		}
	case chat.MessageStoredObserved:
		m.sendDuration.Observe(o.Duration.Seconds())
	case chat.EventDeliveredObserved:
		m.delivered.WithLabelValues(string(o.Type), strconv.FormatBool(o.Replayed)).Inc()
		if o.Delay > 0 {
			m.deliveryDelay.Observe(o.Delay.Seconds())
		}
	case chat.EventDroppedObserved:
		m.dropped.WithLabelValues(string(o.Type), o.Reason).Inc()
	case chat.ConnectionClosedObserved:
		m.closed.WithLabelValues(o.Reason).Inc()
	case chat.ResyncObserved:
		m.resyncs.Inc()
	case chat.BrokerLossObserved:
		m.brokerLost.Add(float64(o.Topics))
	case chat.RefillObserved:
		m.refilled.Add(float64(o.Events))
	case chat.RateLimitedObserved:
		m.rateLimited.WithLabelValues(o.Action).Inc()
	case chat.HookRejectedObserved:
		m.hookRejections.WithLabelValues(o.Hook).Inc()
	}
}

// methodLabel keeps the method label bounded whatever clients send.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

func errorKind(err error) string {
	switch {
	case errors.Is(err, chat.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, chat.ErrNotFound):
		return "not_found"
	}
	return "other"
}
