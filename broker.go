package chat

import "context"

// Broker carries notifications between the nodes (processes) of one chat
// service. It is a hint channel, not a log: delivery is at most once, and
// whatever a Broker loses the Service recovers from the Store, which is the
// record of truth. A Broker must be safe for concurrent use.
//
// Each node opens one Subscriber and adds the topics its connected users
// need. Topics are opaque strings chosen by the Service (one per chat and
// one per user); payloads are opaque bytes.
//
// Run the brokertest package against an implementation to check it.
type Broker interface {
	// Publish sends payload to every subscriber of topic, on every node,
	// including the publishing node's own subscribers. It returns once the
	// notification is handed to the transport; an error means it may not
	// have been delivered anywhere. Publishes made one after another by
	// one goroutine on one topic are delivered to each subscriber in that
	// order.
	Publish(ctx context.Context, topic string, payload []byte) error

	// NewSubscriber opens a subscriber that calls h for the notifications
	// of the topics it subscribes to. The subscriber owns its goroutines
	// and connections until Close.
	NewSubscriber(h BrokerHandler) (Subscriber, error)
}

// Subscriber is one node's set of subscriptions on a Broker. Its methods are
// safe for concurrent use; calls for the same topic take effect in the order
// they are made. Topics are compared exactly (no patterns). Subscribing to
// a topic already subscribed, unsubscribing from one that is not, or
// either call with no topics, does nothing and returns nil.
type Subscriber interface {
	// Subscribe adds topics. When it returns nil, the topics are active: a
	// Publish that starts afterwards reaches h. When it returns an error
	// (the transport is down, ctx ended), the topics are still added: the
	// subscriber activates them as soon as it can and then reports them
	// through h.HandleLost, so that the caller can recover what was
	// published in between.
	Subscribe(ctx context.Context, topics ...string) error

	// Unsubscribe removes topics. Notifications for them may still reach h
	// for a short while after it returns; h must tolerate that.
	Unsubscribe(ctx context.Context, topics ...string) error

	// Close removes every subscription, stops the subscriber's goroutines
	// and waits for them. No method of h is called after Close returns.
	// Close must not be called from h's methods, since it waits for them.
	Close() error
}

// BrokerHandler receives what a Subscriber delivers. Its methods are called
// from the subscriber's goroutines, possibly concurrently, and must return
// quickly: a handler that blocks holds back every topic of the subscriber.
// A handler may call Publish, but not the methods of its own Subscriber.
type BrokerHandler interface {
	// HandleNotification is called for each payload published on a
	// subscribed topic. The handler may keep payload.
	HandleNotification(topic string, payload []byte)

	// HandleLost is called when notifications on topics may have been
	// lost: after the subscriber reconnects, or after it activates topics
	// whose Subscribe call failed. By the time it is called the topics are
	// active again, so anything published afterwards is delivered.
	HandleLost(topics []string)
}
