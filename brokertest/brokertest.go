// Package brokertest is a conformance suite for implementations of
// chat.Broker.
//
// An implementation's tests call Run with a function that returns a Broker
// for one subtest, isolated from the others (for example by a channel
// prefix) and cleaned up through t.Cleanup:
//
//	func TestBroker(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T) chat.Broker {
//			return mybroker.New(client, mybroker.Options{Prefix: t.Name() + ":"})
//		})
//	}
//
// Each Subscriber the suite opens on that Broker stands for one node of a
// cluster, and the suite publishes through the same Broker, so the
// publishing process subscribes too. The suite injects no failures, so a
// Broker must deliver every notification it is given. How an
// implementation recovers from failures is for its own tests, which can
// record what a Subscriber delivers with a Recorder.
//
// Where the contract is silent the suite expects what the Service relies
// on: Subscribe and Unsubscribe with no topics return nil, and topics are
// compared exactly, even when they hold characters such as * and ? that a
// transport may treat as patterns.
package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// waitTimeout bounds every wait of the suite: a notification that has not
// arrived by then counts as lost.
const waitTimeout = 5 * time.Second

// Run checks that the Brokers returned by newBroker keep the chat.Broker
// contract. It calls newBroker once per subtest, with the subtest's t, and
// runs the subtests one after another. Every wait is bounded by five
// seconds.
func Run(t *testing.T, newBroker func(t *testing.T) chat.Broker) {
	tests := []struct {
		name string
		run  func(*testing.T, chat.Broker)
	}{
		{"PublishReachesEverySubscriber", testPublishReachesEverySubscriber},
		{"TopicsAreExact", testTopicsAreExact},
		{"PayloadIntact", testPayloadIntact},
		{"ActiveOnReturn", testActiveOnReturn},
		{"OrderPerPublisher", testOrderPerPublisher},
		{"OrderPerConcurrentPublisher", testOrderPerConcurrentPublisher},
		{"SubscribeTwice", testSubscribeTwice},
		{"UnsubscribeUnknown", testUnsubscribeUnknown},
		{"UnsubscribeStopsDelivery", testUnsubscribeStopsDelivery},
		{"ManyTopicsInOneCall", testManyTopicsInOneCall},
		{"NoTopics", testNoTopics},
		{"Close", testClose},
		{"CloseWaitsForHandler", testCloseWaitsForHandler},
		{"Concurrency", testConcurrency},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newBroker(t))
		})
	}
}

func testPublishReachesEverySubscriber(t *testing.T, b chat.Broker) {
	first, second, third := openNode(t, b), openNode(t, b), openNode(t, b)
	elsewhere := openNode(t, b)
	first.subscribe(t, "news")
	second.subscribe(t, "news")
	third.subscribe(t, "news", "sport")
	elsewhere.subscribe(t, "weather")

	publish(t, b, "sport", []byte("goal"))
	publish(t, b, "nobody-listens", []byte("echo"))
	publish(t, b, "news", []byte("headline"))
	publish(t, b, "weather", []byte("rain"))

	for i, n := range []*node{first, second, third} {
		assert.Equal(t, "headline", string(n.wait(t, "news", 1)[0]), "subscriber %d", i)
	}
	assert.Equal(t, "goal", string(third.wait(t, "sport", 1)[0]))
	assert.Equal(t, "rain", string(elsewhere.wait(t, "weather", 1)[0]))

	first.assertReceived(t, map[string]int{"news": 1})
	second.assertReceived(t, map[string]int{"news": 1})
	third.assertReceived(t, map[string]int{"news": 1, "sport": 1})
	elsewhere.assertReceived(t, map[string]int{"weather": 1})
}

// testTopicsAreExact uses topics that are patterns or prefixes of each other
// in common brokers' syntax, to catch an implementation that matches topics
// instead of comparing them.
func testTopicsAreExact(t *testing.T, b chat.Broker) {
	topics := []string{
		"a", "ab", "a*", "a?", "a[b]", "a.b", "a.*", "a:b", "a/b", "a b", `a\`, "{a}", "a>", "ä", "日本語",
	}
	all := openNode(t, b)
	all.subscribe(t, topics...)
	single := make([]*node, len(topics))
	for i, topic := range topics {
		single[i] = openNode(t, b)
		single[i].subscribe(t, topic)
	}

	for _, topic := range topics {
		publish(t, b, topic, []byte(topic))
	}

	for i, topic := range topics {
		assert.Equal(t, topic, string(all.wait(t, topic, 1)[0]))
		assert.Equal(t, topic, string(single[i].wait(t, topic, 1)[0]))
	}
	want := make(map[string]int)
	for i, topic := range topics {
		want[topic] = 1
		single[i].assertReceived(t, map[string]int{topic: 1})
	}
	all.assertReceived(t, want)
}

func testPayloadIntact(t *testing.T, b chat.Broker) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	large := make([]byte, 64<<10)
	for i := range large {
		large[i] = byte(i*7 + i>>8) // zero every 256 bytes or so, and no short period
	}
	payloads := [][]byte{
		{},
		{0},
		{0, 0, 0},
		allBytes,
		[]byte("\xff\xfe not UTF-8 \x00 and \r\n after"),
		[]byte(`{"type":"message.created","seq":1}`),
		large,
	}
	nodes := []*node{openNode(t, b), openNode(t, b)}
	for _, n := range nodes {
		n.subscribe(t, "payload")
	}

	for _, p := range payloads {
		// The notification belongs to the transport once Publish returns,
		// so the caller may reuse its buffer.
		buf := bytes.Clone(p)
		publish(t, b, "payload", buf)
		for i := range buf {
			buf[i] ^= 0x5a
		}
	}

	for i, n := range nodes {
		n.wait(t, "payload", len(payloads))
		// Read what the handler kept only after everything arrived: the
		// handler may keep payloads, so later deliveries must not reuse
		// their memory.
		for j, got := range n.rec.Notifications("payload") {
			if !bytes.Equal(got, payloads[j]) {
				t.Errorf("subscriber %d, payload %d: got %d bytes, want %d bytes; first difference at byte %d",
					i, j, len(got), len(payloads[j]), firstDifference(got, payloads[j]))
			}
		}
	}
}

func testActiveOnReturn(t *testing.T, b chat.Broker) {
	// A Broker that returns from Subscribe before the transport confirms
	// it loses the first notification now and then, so try many times.
	n := openNode(t, b)
	for i := range 100 {
		topic := fmt.Sprintf("fresh-%d", i)
		n.subscribe(t, topic)
		publish(t, b, topic, []byte(topic))
		n.wait(t, topic, 1)
	}

	// The first Subscribe of a new Subscriber may have to set up its
	// connection first.
	for i := range 10 {
		m := openNode(t, b)
		topic := fmt.Sprintf("fresh-node-%d", i)
		m.subscribe(t, topic)
		publish(t, b, topic, []byte(topic))
		m.wait(t, topic, 1)
		require.NoError(t, m.sub.Close())
	}
}

func testOrderPerPublisher(t *testing.T, b chat.Broker) {
	const count = 1000
	nodes := []*node{openNode(t, b), openNode(t, b)}
	for _, n := range nodes {
		n.subscribe(t, "seq")
	}

	for i := range count {
		publish(t, b, "seq", []byte(strconv.Itoa(i)))
	}

	for i, n := range nodes {
		for j, p := range n.wait(t, "seq", count) {
			if string(p) != strconv.Itoa(j) {
				t.Fatalf("subscriber %d: notification %d is %q, want %q", i, j, p, strconv.Itoa(j))
			}
		}
	}
}

func testOrderPerConcurrentPublisher(t *testing.T, b chat.Broker) {
	const publishers, each = 4, 250
	nodes := []*node{openNode(t, b), openNode(t, b)}
	for _, n := range nodes {
		n.subscribe(t, "multi")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 4*waitTimeout)
	defer cancel()
	var g group
	for p := range publishers {
		g.Go(func() error {
			for i := range each {
				if err := b.Publish(ctx, "multi", fmt.Appendf(nil, "%d/%d", p, i)); err != nil {
					return fmt.Errorf("publisher %d, notification %d: %w", p, i, err)
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())

	for i, n := range nodes {
		next := make([]int, publishers)
		for j, payload := range n.wait(t, "multi", publishers*each) {
			var p, seq int
			_, err := fmt.Sscanf(string(payload), "%d/%d", &p, &seq)
			require.NoError(t, err, "subscriber %d, notification %d: %q", i, j, payload)
			if seq != next[p] {
				t.Fatalf("subscriber %d: publisher %d's notification %d arrived where %d was due", i, p, seq, next[p])
			}
			next[p]++
		}
	}
}

func testSubscribeTwice(t *testing.T, b chat.Broker) {
	n := openNode(t, b)
	n.subscribe(t, "dup")
	n.subscribe(t, "dup")
	n.subscribe(t, "dup", "dup")

	var want [][]byte
	for _, p := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "end"} {
		publish(t, b, "dup", []byte(p))
		want = append(want, []byte(p))
	}
	assert.Equal(t, want, n.wait(t, "dup", len(want)), "a topic subscribed more than once is delivered more than once")

	// A duplicate that travels a path of its own may trail the rest; give
	// it the time one more notification takes.
	publish(t, b, "dup", []byte("flush"))
	want = append(want, []byte("flush"))
	n.wait(t, "dup", len(want))
	assert.Equal(t, want, n.rec.Notifications("dup"), "a topic subscribed more than once is delivered more than once")
}

func testUnsubscribeUnknown(t *testing.T, b chat.Broker) {
	ctx := t.Context()
	fresh := openNode(t, b)
	require.NoError(t, fresh.sub.Unsubscribe(ctx, "never"), "Unsubscribe on a Subscriber without topics")

	n := openNode(t, b)
	n.subscribe(t, "kept", "once")
	require.NoError(t, n.sub.Unsubscribe(ctx, "never", "other"), "Unsubscribe of topics never subscribed")
	require.NoError(t, n.sub.Unsubscribe(ctx, "once"))
	require.NoError(t, n.sub.Unsubscribe(ctx, "once"), "Unsubscribe of a topic already unsubscribed")

	fresh.subscribe(t, "kept")
	publish(t, b, "kept", []byte("still here"))
	assert.Equal(t, "still here", string(n.wait(t, "kept", 1)[0]))
	assert.Equal(t, "still here", string(fresh.wait(t, "kept", 1)[0]))
}

func testUnsubscribeStopsDelivery(t *testing.T, b chat.Broker) {
	n := openNode(t, b)
	other := openNode(t, b)
	// Subscribing twice does nothing, so one Unsubscribe removes the topic.
	n.subscribe(t, "gone")
	n.subscribe(t, "gone", "stay")
	other.subscribe(t, "gone")

	publish(t, b, "gone", []byte("before"))
	n.wait(t, "gone", 1)
	other.wait(t, "gone", 1)

	require.NoError(t, n.sub.Unsubscribe(t.Context(), "gone"))
	rounds := requireStops(t, b, n, []string{"gone"}, "stay")

	// Other nodes keep the topic.
	publish(t, b, "gone", []byte("after"))
	got := other.wait(t, "gone", 1+rounds+1)
	assert.Equal(t, "after", string(got[len(got)-1]))

	// And the topic can be subscribed again.
	seen := n.rec.Count("gone")
	n.subscribe(t, "gone")
	publish(t, b, "gone", []byte("again"))
	assert.Equal(t, "again", string(n.wait(t, "gone", seen+1)[seen]))
}

func testManyTopicsInOneCall(t *testing.T, b chat.Broker) {
	topics := make([]string, 500)
	for i := range topics {
		topics[i] = fmt.Sprintf("many-%03d", i)
	}
	n := openNode(t, b)
	n.subscribe(t, "stay")
	n.subscribe(t, topics...)

	for _, topic := range topics {
		publish(t, b, topic, []byte(topic))
	}
	for _, topic := range topics {
		assert.Equal(t, topic, string(n.wait(t, topic, 1)[0]))
	}

	require.NoError(t, n.sub.Unsubscribe(t.Context(), topics...))
	requireStops(t, b, n, topics, "stay")
}

func testNoTopics(t *testing.T, b chat.Broker) {
	n := openNode(t, b)
	require.NoError(t, n.sub.Subscribe(t.Context()), "Subscribe with no topics")
	require.NoError(t, n.sub.Unsubscribe(t.Context()), "Unsubscribe with no topics")

	n.subscribe(t, "after")
	publish(t, b, "after", []byte("x"))
	n.wait(t, "after", 1)
}

func testClose(t *testing.T, b chat.Broker) {
	guard := new(closeGuard)
	closing := openNodeWith(t, b, guard, &guard.Recorder)
	other := openNode(t, b)
	closing.subscribe(t, "stream")
	other.subscribe(t, "stream")

	// Publish without pause while Close runs, so that deliveries are in
	// flight when it does.
	stop := make(chan struct{})
	result := make(chan publishResult, 1)
	go func() {
		var r publishResult
		defer func() { result <- r }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r.err = b.Publish(t.Context(), "stream", []byte(strconv.Itoa(r.sent))); r.err != nil {
				return
			}
			r.sent++
		}
	}()
	stopPublishing := sync.OnceValue(func() publishResult {
		close(stop)
		return <-result
	})
	defer stopPublishing()

	closing.wait(t, "stream", 10)
	require.NoError(t, closing.sub.Close())
	guard.closed.Store(true)
	r := stopPublishing()
	require.NoError(t, r.err)

	publish(t, b, "stream", []byte("last"))
	got := other.wait(t, "stream", r.sent+1)
	assert.Equal(t, "last", string(got[r.sent]), "the other subscriber lost notifications")
	assert.Zero(t, guard.late.Load(), "the handler was called after Close returned")

	assert.NotPanics(t, func() { _ = closing.sub.Close() }, "second Close")
	publish(t, b, "stream", []byte("after second close"))
	other.wait(t, "stream", r.sent+2)
	assert.Zero(t, guard.late.Load(), "the handler was called after Close returned")
}

func testCloseWaitsForHandler(t *testing.T, b chat.Broker) {
	h := &blockingHandler{entered: make(chan struct{}), release: make(chan struct{})}
	sub, err := b.NewSubscriber(h)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	release := sync.OnceFunc(func() { close(h.release) })
	defer release()
	require.NoError(t, sub.Subscribe(t.Context(), "block"))

	published := make(chan error, 1)
	go func() { published <- b.Publish(t.Context(), "block", []byte("x")) }()
	receive(t, h.entered, "the handler was not called")

	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a handler call was in progress")
	case <-time.After(100 * time.Millisecond):
		// Close is waiting for the handler, or has yet to get there. The
		// pause only gives a wrong implementation the chance to show
		// itself; a correct one passes whatever the timing.
	}
	release()
	require.NoError(t, receive(t, closed, "Close did not return after the handler did"))
	assert.True(t, h.returned.Load(), "Close returned before the handler call in progress did")
	require.NoError(t, receive(t, published, "Publish did not return"))
}

func testConcurrency(t *testing.T, b chat.Broker) {
	const (
		workers, rounds        = 8, 20
		hotPublishers, hotEach = 2, 200
	)
	nodes := []*node{openNode(t, b), openNode(t, b)}
	for _, n := range nodes {
		n.subscribe(t, "hot")
	}
	churn := openNode(t, b)

	ctx, cancel := context.WithTimeout(t.Context(), 4*waitTimeout)
	defer cancel()
	var g group
	for w := range workers {
		g.Go(func() error {
			for i := range rounds {
				n := nodes[(w+i)%len(nodes)]
				topic := fmt.Sprintf("churn-%d-%d", w, i)
				if err := n.sub.Subscribe(ctx, topic); err != nil {
					return fmt.Errorf("Subscribe %q: %w", topic, err)
				}
				if err := b.Publish(ctx, topic, []byte(topic)); err != nil {
					return fmt.Errorf("Publish %q: %w", topic, err)
				}
				if _, err := n.rec.Wait(ctx, topic, 1); err != nil {
					return err
				}
				if err := n.sub.Unsubscribe(ctx, topic); err != nil {
					return fmt.Errorf("Unsubscribe %q: %w", topic, err)
				}
			}
			return nil
		})
	}
	for p := range hotPublishers {
		g.Go(func() error {
			for i := range hotEach {
				if err := b.Publish(ctx, "hot", fmt.Appendf(nil, "%d/%d", p, i)); err != nil {
					return fmt.Errorf("Publish hot: %w", err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		// Subscribing and unsubscribing the topic being published on
		// must not disturb the other subscribers of it.
		for range rounds {
			if err := churn.sub.Subscribe(ctx, "hot"); err != nil {
				return fmt.Errorf("Subscribe hot: %w", err)
			}
			if err := churn.sub.Unsubscribe(ctx, "hot"); err != nil {
				return fmt.Errorf("Unsubscribe hot: %w", err)
			}
		}
		return nil
	})
	require.NoError(t, g.Wait())

	for i, n := range nodes {
		next := make([]int, hotPublishers)
		for j, payload := range n.wait(t, "hot", hotPublishers*hotEach) {
			var p, seq int
			_, err := fmt.Sscanf(string(payload), "%d/%d", &p, &seq)
			require.NoError(t, err, "subscriber %d, notification %d: %q", i, j, payload)
			if seq != next[p] {
				t.Fatalf("subscriber %d: publisher %d's notification %d arrived where %d was due", i, p, seq, next[p])
			}
			next[p]++
		}
	}

	// The churning subscriber may have caught any number of the earlier
	// notifications, but once subscribed again it must get the next one.
	churn.subscribe(t, "hot")
	publish(t, b, "hot", []byte("after churn"))
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(churn.rec.Notifications("hot"), func(p []byte) bool {
			return string(p) == "after churn"
		})
	}, waitTimeout, time.Millisecond, "the subscriber that churned did not get the notification after it")
}

func testCancelledContext(t *testing.T, b chat.Broker) {
	// With a context that has ended, a call may fail or succeed, but it
	// must return, and a failed Subscribe still adds its topics.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n := openNode(t, b)

	_ = returns(t, "Publish with a cancelled context", func() error {
		return b.Publish(ctx, "cancelled", []byte("x"))
	})

	err := returns(t, "Subscribe with a cancelled context", func() error {
		return n.sub.Subscribe(ctx, "late")
	})
	if err != nil {
		wctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		require.NoError(t, n.rec.WaitLost(wctx, "late"),
			"Subscribe failed with %v, so the topic must be reported lost once active", err)
	}
	publish(t, b, "late", []byte("y"))
	assert.Equal(t, "y", string(n.wait(t, "late", 1)[0]))

	_ = returns(t, "Unsubscribe with a cancelled context", func() error {
		return n.sub.Unsubscribe(ctx, "late")
	})

	n.subscribe(t, "after")
	publish(t, b, "after", []byte("z"))
	n.wait(t, "after", 1)
}

// requireStops checks that notifications on gone, which n has unsubscribed
// from, stop reaching n. The contract lets some arrive for a short while,
// so it publishes rounds of one notification per topic of gone followed by
// a marker on stay, which n still subscribes to, until a round none of
// whose own notifications on gone had arrived by the time its marker did.
// None of the round after that may arrive either. It returns how many
// rounds it published.
//
// Payloads name their round, because a broker may deliver different topics
// over different connections (one per Redis Cluster node), so a late
// notification of an earlier round can arrive after a later marker: that
// one was published before Unsubscribe took effect.
//
// "A short while" is judged in rounds as well as in time: it fails only
// when notifications still arrive both waitTimeout after Unsubscribe and
// after minDirtyRounds complete rounds, so that a slow machine, on which
// one round of many topics can outlast waitTimeout, does not fail it.
func requireStops(t *testing.T, b chat.Broker, n *node, gone []string, stay string) int {
	t.Helper()
	markers := n.rec.Count(stay)
	rounds := 0
	clean := func() bool {
		rounds++
		payload := fmt.Appendf(nil, "after unsubscribe, round %d", rounds)
		for _, topic := range gone {
			publish(t, b, topic, payload)
		}
		markers++
		publish(t, b, stay, fmt.Appendf(nil, "marker %d", rounds))
		n.wait(t, stay, markers)
		for _, topic := range gone {
			for _, got := range n.rec.Notifications(topic) {
				if bytes.Equal(got, payload) {
					return false
				}
			}
		}
		return true
	}
	const minDirtyRounds = 3
	deadline := time.Now().Add(waitTimeout)
	for !clean() {
		if rounds >= minDirtyRounds && time.Now().After(deadline) {
			t.Fatalf("notifications on unsubscribed topics still arrive %v and %d rounds after Unsubscribe returned", waitTimeout, rounds)
		}
	}
	if !clean() {
		t.Fatal("a notification on an unsubscribed topic arrived after a round in which none did")
	}
	return rounds
}

// node is one Subscriber with the Recorder it delivers to.
type node struct {
	sub chat.Subscriber
	rec *Recorder
}

func openNode(t *testing.T, b chat.Broker) *node {
	t.Helper()
	rec := new(Recorder)
	return openNodeWith(t, b, rec, rec)
}

// openNodeWith opens a Subscriber that delivers to h, which records into
// rec.
func openNodeWith(t *testing.T, b chat.Broker, h chat.BrokerHandler, rec *Recorder) *node {
	t.Helper()
	sub, err := b.NewSubscriber(h)
	require.NoError(t, err, "NewSubscriber")
	t.Cleanup(func() { _ = sub.Close() })
	return &node{sub: sub, rec: rec}
}

func (n *node) subscribe(t *testing.T, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, n.sub.Subscribe(ctx, topics...), "Subscribe %q", topics)
}

func (n *node) wait(t *testing.T, topic string, count int) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	got, err := n.rec.Wait(ctx, topic, count)
	require.NoError(t, err)
	return got
}

// assertReceived checks how many notifications n received on each topic,
// and that it received none on any other topic.
func (n *node) assertReceived(t *testing.T, want map[string]int) {
	t.Helper()
	got := make(map[string]int)
	for _, topic := range n.rec.Topics() {
		got[topic] = n.rec.Count(topic)
	}
	assert.Equal(t, want, got, "notifications received per topic")
}

func publish(t *testing.T, b chat.Broker, topic string, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, b.Publish(ctx, topic, payload), "Publish %q", topic)
}

// returns runs fn and returns its error, failing t if fn does not return
// within waitTimeout.
func returns(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return receive(t, done, what+" did not return")
}

// receive returns the next value from ch, failing t with msg if none comes
// within waitTimeout.
func receive[T any](t *testing.T, ch <-chan T, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("%s within %v", msg, waitTimeout)
		panic("unreachable")
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// group runs goroutines and collects the first error among them.
type group struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *group) Go(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	return g.err
}

type publishResult struct {
	sent int
	err  error
}

// closeGuard counts the calls it gets after closed is set, which the test
// sets as soon as Close returns.
type closeGuard struct {
	Recorder
	closed atomic.Bool
	late   atomic.Int64
}

func (g *closeGuard) HandleNotification(topic string, payload []byte) {
	if g.closed.Load() {
		g.late.Add(1)
	}
	g.Recorder.HandleNotification(topic, payload)
}

func (g *closeGuard) HandleLost(topics []string) {
	if g.closed.Load() {
		g.late.Add(1)
	}
	g.Recorder.HandleLost(topics)
}

// blockingHandler holds its first notification until release is closed.
type blockingHandler struct {
	entered  chan struct{}
	release  chan struct{}
	called   atomic.Bool
	returned atomic.Bool
}

func (h *blockingHandler) HandleNotification(string, []byte) {
	if !h.called.CompareAndSwap(false, true) {
		return
	}
	close(h.entered)
	<-h.release
	h.returned.Store(true)
}

func (h *blockingHandler) HandleLost([]string) {}
