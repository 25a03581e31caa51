package chat

import (
	"context"
	"time"
)

// HasStream reports whether svc's node has a stream for chatID, that is,
// whether one of its subscriptions follows the chat. Tests use it to know
// that a subscription has reached a point that leaves no other trace.
func HasStream(svc *Service, chatID string) bool {
	svc.hub.mu.Lock()
	defer svc.hub.mu.Unlock()
	return svc.hub.streams[chatID] != nil
}

// WaitPublished waits until s has handed every queued notification to its
// Broker (or given up on it), so that a test can change what the Broker
// does between two publications.
func WaitPublished(s *Service) {
	for s.hub.pub != nil && !s.hub.pub.idle() {
		time.Sleep(time.Millisecond)
	}
}

// QueueLen returns how many events wait in sub's queue of stored events.
func QueueLen(sub *Subscription) int { return sub.queued() }

// ResumeReadsUnderWay returns how many reads of resuming subscriptions
// (and of new streams' positions) wait for a batch, a slot or the Store,
// so that a test knows when every resume has reached the Store.
func ResumeReadsUnderWay(svc *Service) int { return int(svc.hub.reads.waiting.Load()) }

// SweepAttachmentsAt is SweepAttachments as if the clock read now, so that
// a test sees uploads expire without waiting for them to.
func SweepAttachmentsAt(ctx context.Context, s *Service, now time.Time) (int, error) {
	return s.sweepAttachments(ctx, now.Add(-s.attach.cfg.UnreferencedTTL))
}
