// Package routers shows how to mount the chat handlers under a prefix with
// net/http, chi, gin and echo, each behind the host's authentication
// middleware, and tests every recipe over real HTTP and WebSocket with
// chattest.
//
// It is a module of its own so that gin and echo stay out of the SDK's
// dependency graph; go vet and go test run here from .ci/run.
//
// Two ways to mount the REST handler under a prefix such as /api/chat:
//
//   - http.StripPrefix("/api/chat", chat.NewHandler(svc, cfg)): the router
//     passes the full path and StripPrefix removes the prefix. Use it when
//     the router hands the handler r.URL.Path unchanged (net/http's
//     ServeMux, gin, echo).
//   - chat.NewHandler(svc, chat.HandlerConfig{Prefix: "/api/chat"}): the
//     handler strips the prefix itself. Use it where a router mounts a
//     sub-handler without stripping and wrapping is awkward (chi's Mount).
//
// Never both: the prefix would be removed twice, and every route would
// answer 404. The WebSocket handler ignores the path, so any pattern that
// reaches it works.
//
// Authentication is the host's: its middleware finds the user (from a
// session cookie or a token) and passes the request on with
// chat.WithUser, leaving HandlerConfig.Authenticate and
// WebSocketConfig.Authenticate nil.
package routers
