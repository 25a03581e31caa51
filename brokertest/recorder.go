package brokertest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/embedchat/chat"
)

var _ chat.BrokerHandler = (*Recorder)(nil)

// Recorder is a chat.BrokerHandler that keeps everything it is given so
// that a test can inspect it and wait for it. Its methods are safe for
// concurrent use. The zero value is ready to use; a Recorder must not be
// copied after first use.
type Recorder struct {
	mu    sync.Mutex
	notes map[string][][]byte
	lost  []string
	// changed is closed, and set to nil, whenever something is recorded;
	// waiters take it before they release mu, so that no signal is missed.
	changed chan struct{}
}

// HandleNotification records payload under topic. It keeps payload
// without copying it, as the BrokerHandler contract allows.
func (r *Recorder) HandleNotification(topic string, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notes == nil {
		r.notes = make(map[string][][]byte)
	}
	r.notes[topic] = append(r.notes[topic], payload)
	r.signalLocked()
}

// HandleLost records topics as lost.
func (r *Recorder) HandleLost(topics []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost = append(r.lost, topics...)
	r.signalLocked()
}

// Notifications returns the payloads received on topic so far, in the order
// they arrived.
func (r *Recorder) Notifications(topic string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes[topic])
}

// Count returns the number of payloads received on topics so far, summed.
func (r *Recorder) Count(topics ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, topic := range topics {
		n += len(r.notes[topic])
	}
	return n
}

// Topics returns the sorted topics that at least one notification arrived
// on, so that a test can check that nothing arrived where it should not.
func (r *Recorder) Topics() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	topics := make([]string, 0, len(r.notes))
	for topic := range r.notes {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	return topics
}

// Lost returns every topic reported through HandleLost so far, in the order
// reported, with repeats.
func (r *Recorder) Lost() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lost)
}

// Wait blocks until at least n payloads have arrived on topic and returns
// the first n. When ctx ends first it returns an error that says how many
// arrived.
func (r *Recorder) Wait(ctx context.Context, topic string, n int) ([][]byte, error) {
	for {
		r.mu.Lock()
		got := r.notes[topic]
		if len(got) >= n {
			first := slices.Clone(got[:n])
			r.mu.Unlock()
			return first, nil
		}
		changed := r.changedLocked()
		r.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("brokertest: %d of %d notifications arrived on topic %q: %w",
				r.Count(topic), n, topic, context.Cause(ctx))
		}
	}
}

// WaitLost blocks until HandleLost has reported topic, or returns an error
// when ctx ends first.
func (r *Recorder) WaitLost(ctx context.Context, topic string) error {
	for {
		r.mu.Lock()
		if slices.Contains(r.lost, topic) {
			r.mu.Unlock()
			return nil
		}
		changed := r.changedLocked()
		r.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("brokertest: topic %q not reported lost: %w", topic, context.Cause(ctx))
		}
	}
}

func (r *Recorder) changedLocked() chan struct{} {
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

func (r *Recorder) signalLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}
