// Package chat is an embeddable real-time chat service for Go web apps:
// 1:1 and group chats, message history, and live delivery over WebSocket,
// mounted as plain http.Handlers on the host app's own router.
//
// A host app builds a Service from a Store (the record of truth: package
// memory for tests and single-process apps, package postgres in
// production) and a Broker (notifications between servers: package memory
// in one process, package redisbroker across many), then mounts the REST
// handler and the WebSocket handler under a prefix of its choice:
//
//	svc, err := chat.New(chat.Config{Store: store, Broker: broker, Logger: logger})
//	if err != nil { ... }
//	defer svc.Shutdown(ctx)
//
//	auth := func(r *http.Request) (string, error) { return currentUserID(r), nil }
//	mux.Handle("/api/chat/", http.StripPrefix("/api/chat", chat.NewHandler(svc, chat.HandlerConfig{Authenticate: auth})))
//	mux.Handle("/api/chat/ws", chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: auth}))
//
// Authentication stays with the host: an Authenticator maps a request to a
// user id, or host middleware stores it with WithUser. The Service enforces
// membership on every call, so a chat one is not in answers "not found"
// whichever way it is reached. The REST handler refuses writes that other
// sites make a signed-in browser send (cross-origin requests, non-JSON
// bodies); docs/security.md lists what the SDK defends, what the host must
// do, and every limit.
//
// # Delivery
//
// Every persisted event of a chat has a sequence number (seq) assigned by
// the Store: 1, 2, 3, ... without gaps. A WebSocket client, or a Go
// consumer of Subscribe, resumes with the last seq it saw per chat and
// receives every later event exactly once, in seq order, across the replay
// and the live events that follow, even while others are sending, across
// reconnects and server restarts, and while the Broker loses
// notifications: each node detects gaps by seq and fills them from the
// Store. The wire protocol is specified in docs/protocol.md.
//
// # Backends
//
// Store and Broker are small interfaces with their contracts in their doc
// comments. The storetest and brokertest packages are the conformance
// suites that every implementation in this module passes; run them against
// your own. Package chattest has helpers for host apps' tests.
package chat
