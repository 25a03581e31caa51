package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chatprom"
)

// withOps adds what operators use to the demo's handler: the health
// endpoints at /healthz/livez and /healthz/readyz, always, and Prometheus
// metrics at /metrics when metrics is non-nil (-metrics).
func withOps(h http.Handler, svc *chat.Service, metrics *chatprom.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz/", http.StripPrefix("/healthz", chat.NewHealthHandler(svc, chat.HealthConfig{})))
	if metrics != nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	mux.Handle("/", h)
	return mux
}
