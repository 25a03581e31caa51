package chat

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrRateLimited means the caller is doing something more often than the
// host allows; the error also satisfies errors.As with *RateLimitError,
// which says when to retry. The HTTP handlers answer 429 with Retry-After.
var ErrRateLimited = errors.New("chat: rate limited")

// RateLimitError is returned when a RateLimit refuses a call.
type RateLimitError struct {
	// Action is what was limited: "send" or "create_chat".
	Action string
	// RetryAfter is how long until the call would be allowed.
	RetryAfter time.Duration
}

// Error says what was limited and when to retry.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("chat: rate limited: too many %s requests, retry in %v", e.Action, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Rate is a token bucket: Events per Per on average, with bursts of up to
// Burst (default Events). The zero Rate means no limit.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

func (r Rate) enabled() bool { return r.Events > 0 && r.Per > 0 }

// RateLimit limits each user's writes. Limits are kept per Service, that
// is per node: with N nodes behind a load balancer a user gets at most N
// times the rate. Zero fields mean no limit, which is the default: a host
// facing the open internet should set all three (see docs/security.md).
type RateLimit struct {
	// Sends limits SendMessage, EditMessage and DeleteMessage (POST
	// /chats/{id}/messages, PATCH and DELETE /chats/{id}/messages/{seq})
	// per user, in one bucket: every one of them fans a message out to
	// every member. Idempotent retries that return the original message
	// count too.
	Sends Rate
	// ChatCreates limits CreateChat (POST /chats) per user.
	ChatCreates Rate
	// MemberChanges limits AddMember and RemoveMember (POST and DELETE
	// /chats/{id}/members) per acting user, leaving a chat included, and
	// likewise SetRole, BanMember, UnbanMember, UpdateChat and
	// UpdateSettings.
	MemberChanges Rate
}

// userLimiter holds one token bucket per active user. Buckets of users
// idle for longer than it takes to refill are forgotten, so memory stays
// proportional to recently active users.
type userLimiter struct {
	action  string
	rate    Rate
	now     func() time.Time
	observe func(Observation) // nil: nobody watches

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newUserLimiter(action string, r Rate, now func() time.Time) *userLimiter {
	if !r.enabled() {
		return nil
	}
	if r.Burst <= 0 {
		r.Burst = r.Events
	}
	return &userLimiter{action: action, rate: r, now: now, buckets: make(map[string]*rate.Limiter), swept: now()}
}

// newLimiter returns the Service's limiter for action, reporting refusals
// to its Observer; nil when r is off.
func (s *Service) newLimiter(action string, r Rate) *userLimiter {
	l := newUserLimiter(action, r, s.now)
	if l != nil {
		l.observe = s.observe
	}
	return l
}

// allow takes a token for user, or returns a *RateLimitError. A nil
// limiter allows everything.
func (l *userLimiter) allow(user string) error {
	if l == nil {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b := l.buckets[user]
	if b == nil {
		b = rate.NewLimiter(rate.Every(l.rate.Per/time.Duration(l.rate.Events)), l.rate.Burst)
		l.buckets[user] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		if l.observe != nil {
			l.observe(RateLimitedObserved{Action: l.action})
		}
		return &RateLimitError{Action: l.action, RetryAfter: d}
	}
	return nil
}

// sweepLocked drops full buckets once per refill period: a full bucket
// behaves exactly like a new one.
func (l *userLimiter) sweepLocked(now time.Time) {
	refill := time.Duration(math.Ceil(float64(l.rate.Per) * float64(l.rate.Burst) / float64(l.rate.Events)))
	if now.Sub(l.swept) < refill {
		return
	}
	l.swept = now
	for user, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.rate.Burst) {
			delete(l.buckets, user)
		}
	}
}
