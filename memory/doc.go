// Package memory provides an in-process chat.Store and chat.Broker that keep
// everything in the memory of one process.
//
// Host apps use it in unit tests and in single-process deployments that can
// afford to lose their chats on restart. It keeps the same contracts as the
// production backends (gap-free sequence numbers, idempotent sends,
// one direct chat per pair, at-most-once notifications), so code tested
// against it behaves the same against PostgreSQL and Redis.
//
//	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker()})
//
// Several Services sharing one Store and one Broker behave like the nodes of
// a multi-server deployment, which makes multi-node behaviour testable in
// one process; Broker.SetDrop and Broker.Lose simulate a lossy transport.
package memory
