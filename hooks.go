package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrRejected means a BeforeSend hook refused a message. The HTTP handlers
// answer 422 with the hook's reason.
var ErrRejected = errors.New("chat: rejected")

// Reject returns the error a BeforeSend hook uses to refuse a message with
// a reason the client may see: "links are not allowed here".
func Reject(reason string) error { return &requestError{kind: ErrRejected, msg: reason} }

// Deny returns the error an Authorize hook uses to refuse an action with a
// reason the client may see; the HTTP handlers answer 403.
func Deny(reason string) error { return &requestError{kind: ErrForbidden, msg: reason} }

// Hooks let the host app take part in what the Service does. They run in
// process and every field is optional.
type Hooks struct {
	// BeforeSend runs on the sender's goroutine before a message is
	// stored. It may rewrite draft.Text and draft.Metadata (the result is
	// validated again). To refuse the message it returns Reject(reason);
	// any other error also refuses it, as an internal error: a failing
	// moderation hook fails closed.
	BeforeSend func(ctx context.Context, draft *Draft) error

	// AfterSend runs after a message is stored, for push notifications,
	// webhooks or search indexing. It never delays the sender: calls are
	// queued (AfterSendQueue) and made by AfterSendWorkers goroutines, in
	// no particular order across chats. When the queue is full the call
	// is dropped and logged at error level. Shutdown waits for the queue
	// to drain; its ctx ends when the ctx given to Shutdown does, and the
	// calls still queued then are not made but logged at error level,
	// one line per message. MutedMembers(ctx) names the members who muted
	// the chat (see MemberSettings), whose push notifications to skip.
	AfterSend func(ctx context.Context, m Message)

	// AfterSendWorkers is how many AfterSend calls may run at once.
	// Default 4.
	AfterSendWorkers int
	// AfterSendQueue bounds the AfterSend calls waiting for a worker.
	// Default 1024.
	AfterSendQueue int

	// Authorize approves chat creation and member additions before they
	// are stored. Returning Deny(reason) answers 403 with that reason; any
	// other error fails closed as an internal error.
	//
	// With a Store that keeps roles (RoleStore), owners and admins ban
	// users from a group (Service.BanMember) and the Service refuses to
	// add them back. Without one, removing a member is not a ban: a host
	// keeps its bans itself and denies ActionAddMember for them here (see
	// ExampleHooks_bans).
	Authorize func(ctx context.Context, a Action) error

	// Users, if set, validates the user ids that chats are created with or
	// members are added with, and supplies display names for chat
	// objects.
	Users UserDirectory
}

// Draft is a message about to be stored, as a BeforeSend hook sees it.
type Draft struct {
	ChatID string
	Sender string
	// Seq is the message being edited, or 0 for a new message.
	Seq int64
	// Text and Metadata may be changed by the hook.
	Text     string
	Metadata json.RawMessage
}

// ActionKind names what an Authorize hook is asked to approve.
type ActionKind string

// Actions checked by Hooks.Authorize.
const (
	// ActionCreateChat: UserID creates a chat of Kind with Members.
	ActionCreateChat ActionKind = "create_chat"
	// ActionAddMember: UserID adds Members[0] to ChatID.
	ActionAddMember ActionKind = "add_member"
)

// Action is what an Authorize hook approves or denies.
type Action struct {
	Kind   ActionKind
	UserID string
	// ChatID is empty for ActionCreateChat.
	ChatID string
	// ChatKind is the kind of chat being created or joined.
	ChatKind Kind
	// Members are the users being added, the acting user excluded.
	Members []string
}

// UserDirectory is the host app's knowledge of its users.
type UserDirectory interface {
	// LookupUsers returns the users among ids that exist; an id missing
	// from the map is unknown, and chats cannot be created with it or
	// have it added. An error is a system failure.
	LookupUsers(ctx context.Context, ids []string) (map[string]User, error)
}

// User is what a UserDirectory knows of a user.
type User struct {
	DisplayName string
}

// authorize runs the Authorize hook, if any.
func (s *Service) authorize(ctx context.Context, a Action) error {
	if s.hooks.Authorize == nil {
		return nil
	}
	if err := s.hooks.Authorize(ctx, a); err != nil {
		if errors.Is(err, ErrForbidden) {
			s.observe(HookRejectedObserved{Hook: "Authorize"})
		}
		return hookError("authorize", err)
	}
	return nil
}

// hookError keeps the reasons hooks chose to show and turns every other
// failure into an internal error, so that a broken hook fails closed.
func hookError(hook string, err error) error {
	if clientMessage(err) != "" {
		return err
	}
	return fmt.Errorf("chat: %s hook: %w", hook, err)
}

// checkUsersExist fails with ErrInvalid naming the first unknown id.
func (s *Service) checkUsersExist(ctx context.Context, ids []string) error {
	if s.hooks.Users == nil || len(ids) == 0 {
		return nil
	}
	known, err := s.hooks.Users.LookupUsers(ctx, ids)
	if err != nil {
		return fmt.Errorf("chat: user directory: %w", err)
	}
	for _, id := range ids {
		if _, ok := known[id]; !ok {
			return invalidf("unknown user %q", id)
		}
	}
	return nil
}

// withDisplayNames fills in the members' display names of chats.
func (s *Service) withDisplayNames(ctx context.Context, chats []Chat) error {
	if s.hooks.Users == nil {
		return nil
	}
	seen := map[string]bool{}
	var ids []string
	for _, c := range chats {
		for _, m := range c.Members {
			if !seen[m.UserID] {
				seen[m.UserID] = true
				ids = append(ids, m.UserID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	users, err := s.hooks.Users.LookupUsers(ctx, ids)
	if err != nil {
		return fmt.Errorf("chat: user directory: %w", err)
	}
	for _, c := range chats {
		for i := range c.Members {
			c.Members[i].DisplayName = users[c.Members[i].UserID].DisplayName
		}
	}
	return nil
}

// afterSend runs the AfterSend hook on a bounded pool of workers owned by
// the Service. Shutdown closes the queue, the workers drain it, and only
// abandon, when Shutdown's ctx ends, cuts the remaining calls short.
type afterSend struct {
	s     *Service
	hook  func(context.Context, Message)
	queue chan Message
	wg    sync.WaitGroup

	// ctx is the hooks' ctx; cancel ends it when Shutdown gives up.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool // the queue is closed: enqueue drops
}

func newAfterSend(s *Service) *afterSend {
	h := s.hooks
	if h.AfterSend == nil {
		return nil
	}
	workers, size := h.AfterSendWorkers, h.AfterSendQueue
	if workers <= 0 {
		workers = 4
	}
	if size <= 0 {
		size = 1024
	}
	a := &afterSend{s: s, hook: h.AfterSend, queue: make(chan Message, size)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Add(workers)
	for range workers {
		go a.work()
	}
	return a
}

func (a *afterSend) enqueue(m Message) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		a.s.log.Error("chat: AfterSend hook call not made: the Service has shut down", "chat_id", m.ChatID, "seq", m.Seq)
		return
	}
	select {
	case a.queue <- m:
	default:
		a.s.log.Error("chat: AfterSend queue full, hook call dropped", "chat_id", m.ChatID, "seq", m.Seq)
	}
}

func (a *afterSend) work() {
	defer a.wg.Done()
	for m := range a.queue {
		if a.ctx.Err() != nil {
			a.notMade(m)
			continue
		}
		a.call(m)
	}
}

func (a *afterSend) call(m Message) {
	defer func() {
		if r := recover(); r != nil {
			a.s.log.Error("chat: AfterSend hook panicked", "chat_id", m.ChatID, "seq", m.Seq, "panic", r)
		}
	}()
	a.hook(a.s.afterSendContext(a.ctx, m), m)
}

func (a *afterSend) notMade(m Message) {
	a.s.log.Error("chat: AfterSend hook call not made: Shutdown's ctx ended first", "chat_id", m.ChatID, "seq", m.Seq)
}

// close stops taking calls; the workers make those queued and exit.
func (a *afterSend) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
}

// abandon ends the hooks' ctx and logs the calls still queued as not
// made, for when Shutdown's ctx ends before the queue is drained. A
// worker that takes a call after it logs that call the same way.
func (a *afterSend) abandon() {
	if a == nil {
		return
	}
	a.cancel()
	for {
		select {
		case m, ok := <-a.queue:
			if !ok {
				return
			}
			a.notMade(m)
		default:
			return
		}
	}
}

func (a *afterSend) wait() {
	if a != nil {
		a.wg.Wait()
		a.cancel()
	}
}
