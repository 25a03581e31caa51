package chat

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Pinger is implemented by Stores and Brokers that can check their
// connection cheaply. The health handler uses it to decide whether a node
// is ready; a Store without it is checked with a LastSeqs call, and a
// Broker without it is taken as connected.
type Pinger interface {
	// Ping returns nil when the backend answers, or an error wrapping
	// ErrUnavailable when it does not.
	Ping(ctx context.Context) error
}

// DefaultHealthTimeout bounds each backend check of the health handler.
const DefaultHealthTimeout = 2 * time.Second

// HealthConfig configures the health handler. The zero value is usable.
type HealthConfig struct {
	// Timeout bounds each backend check. Default DefaultHealthTimeout.
	Timeout time.Duration
}

// NewHealthHandler returns the node's liveness and readiness endpoints, for
// load balancers and Kubernetes probes. Mount it under a prefix with
// http.StripPrefix; it answers two paths below it:
//
//   - GET /livez: 200 while the Service runs, 503 once Shutdown has
//     finished. It checks no backend, so a database outage never makes an
//     orchestrator restart healthy processes.
//   - GET /readyz: 200 when the Store answers and the Broker is connected
//     and the node is not shutting down; 503 otherwise. From the moment
//     Drain or Shutdown starts it answers 503, while connections are still
//     served for Config.DrainDelay, so that load balancers stop routing
//     new clients here before they are disconnected.
//
// Both answer with a JSON object: {"status":"ok"} or {"status":"unavailable",
// "checks":{...}} naming what failed.
func NewHealthHandler(svc *Service, cfg HealthConfig) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHealthTimeout
	}
	return &healthHandler{svc: svc, cfg: cfg}
}

type healthHandler struct {
	svc *Service
	cfg HealthConfig
}

type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, h.svc.log, "GET, HEAD")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/livez", "livez":
		h.live(w)
	case "/readyz", "readyz":
		h.ready(w, r.Context())
	default:
		writeError(w, h.svc.log, http.StatusNotFound, "not_found", "no such route; use /livez or /readyz")
	}
}

func (h *healthHandler) live(w http.ResponseWriter) {
	if h.svc.stopped() {
		writeJSON(w, h.svc.log, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Checks: map[string]string{"service": "stopped"}})
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, healthBody{Status: "ok"})
}

func (h *healthHandler) ready(w http.ResponseWriter, ctx context.Context) {
	checks := map[string]string{}
	if h.svc.checkReady() != nil {
		checks["service"] = "shutting down"
	} else {
		ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		defer cancel()
		if err := h.svc.pingStore(ctx); err != nil {
			h.svc.log.Warn("chat: readiness: store check failed", "err", err)
			checks["store"] = "unavailable"
		}
		if err := h.svc.pingBroker(ctx); err != nil {
			h.svc.log.Warn("chat: readiness: broker check failed", "err", err)
			checks["broker"] = "unavailable"
		}
	}
	if len(checks) > 0 {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, h.svc.log, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Checks: checks})
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, healthBody{Status: "ok"})
}

// pingStore checks that the Store answers.
func (s *Service) pingStore(ctx context.Context) error {
	if p, ok := s.backend.(Pinger); ok {
		return p.Ping(ctx)
	}
	// A chat id no Store can hold: the answer is empty, but it took a
	// round trip to get it.
	_, err := s.backend.LastSeqs(ctx, []string{"\x00health"})
	return err
}

// pingBroker checks that the Broker is connected.
func (s *Service) pingBroker(ctx context.Context) error {
	if p, ok := s.broker.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
