package chat

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says whether a chat is a direct (1:1) chat or a group.
type Kind string

// The kinds of chat.
const (
	// KindDirect is a chat between exactly two users, unique per pair.
	KindDirect Kind = "direct"
	// KindGroup is a chat with a title and any number of members, up to
	// Limits.MaxMembers.
	KindGroup Kind = "group"
)

// Chat is a conversation and its members. Its JSON form is the chat object
// of the wire protocol.
type Chat struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	Title     string    `json:"title"`
	Members   []Member  `json:"members"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeq is the seq of the chat's latest persisted event, 0 if none.
	LastSeq int64 `json:"last_seq"`
	// LastActivityAt is the time of the latest persisted event, or
	// CreatedAt if there is none. Chat lists are ordered by it.
	LastActivityAt time.Time `json:"last_activity_at"`
	// LastMessage is the message with the highest seq (its tombstone if
	// it was deleted), or nil if the chat has none.
	LastMessage *Message `json:"last_message"`
	// UnreadCount is, for the user the chat was fetched for, the number of
	// messages from others after their read marker, deleted ones excluded.
	// The Service fills it in; Stores leave it 0.
	UnreadCount int64 `json:"unread_count"`
	// MemberCount is the number of members. Members may hold fewer: in
	// the chats the Service returns, at most Limits.MaxInlineMembers
	// members (the first by user id) and the viewer's own entry;
	// Service.ListMembers pages them all. The Service fills it in; Stores
	// leave it 0.
	MemberCount int `json:"member_count"`
	// Metadata is the group's JSON object (an avatar URL, a description),
	// set with Service.UpdateChat; nil if none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Settings are the viewer's own settings of the chat (muted, archived,
	// pinned), when the Store keeps them and the viewer set any. The
	// Service fills it in; Stores leave it nil.
	Settings *MemberSettings `json:"settings,omitempty"`
	// UnreadMentions is, for the user the chat was fetched for, the
	// number of unread messages (as UnreadCount counts them) that mention
	// them. The Service fills it in when the Store is a MentionStore.
	UnreadMentions int64 `json:"unread_mentions,omitempty"`
}

// Member is one user's membership of a chat.
type Member struct {
	UserID string `json:"user_id"`
	// DisplayName comes from Hooks.Users when the host app sets it; Stores
	// leave it empty.
	DisplayName string `json:"display_name,omitempty"`
	// LastReadSeq is the member's read marker: the highest seq they have
	// marked read. Initial members start at 0; members added later at the
	// seq of their member.added event.
	LastReadSeq int64 `json:"last_read_seq"`
	// Role is the member's role in a group (see Role), when the Store
	// keeps roles (RoleStore); empty otherwise and in direct chats.
	Role Role `json:"role,omitempty"`
}

// Message is a chat message. Its JSON form is the message object of the wire
// protocol.
type Message struct {
	ChatID string `json:"chat_id"`
	// Seq is the message's position in the chat's event log, from 1.
	Seq    int64  `json:"seq"`
	Sender string `json:"sender"`
	Text   string `json:"text"`
	// ClientID is the sender's idempotency key; empty if none was given.
	ClientID string `json:"client_id"`
	// Metadata is a JSON object chosen by the client, or nil.
	Metadata  json.RawMessage `json:"metadata"`
	CreatedAt time.Time       `json:"created_at"`
	// EditedAt is the time of the latest edit, nil if never edited.
	EditedAt *time.Time `json:"edited_at,omitempty"`
	// Deleted marks a tombstone: the message was deleted, its Text and
	// Metadata are gone, and its seq stays taken.
	Deleted bool `json:"deleted"`
	// DeletedBy is who deleted the message when it was not its sender: an
	// owner or admin of the group (see RoleStore). Empty otherwise.
	DeletedBy string `json:"deleted_by,omitempty"`
	// ReplyTo is the seq of the message this one replies to, 0 if none;
	// Quote shows that message as it is now. See ThreadStore.
	ReplyTo int64  `json:"reply_to,omitempty"`
	Quote   *Quote `json:"quote,omitempty"`
	// ReplyCount is the number of replies to this message, deleted ones
	// included; LastReplySeq and LastReplyAt are those of the latest.
	ReplyCount   int64      `json:"reply_count,omitempty"`
	LastReplySeq int64      `json:"last_reply_seq,omitempty"`
	LastReplyAt  *time.Time `json:"last_reply_at,omitempty"`
	// Mentions are the members the sender mentioned, sorted by user id.
	// See MentionStore.
	Mentions []string `json:"mentions,omitempty"`
	// Reactions counts the reactions per emoji, in the order each emoji
	// was first used. See Reactor.
	Reactions []Reaction `json:"reactions,omitempty"`
	// Attachments are the files sent with the message, nil if none (and
	// in a tombstone). See Attachment.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// EventType names an event delivered to subscribers.
type EventType string

// Event types. Persisted events have a seq in their chat's log; the others
// have Seq 0.
const (
	// EventMessageCreated is persisted: a message was sent; Message is set.
	EventMessageCreated EventType = "message.created"
	// EventMessageUpdated is persisted: a message was edited; Message is
	// set, with its own seq.
	EventMessageUpdated EventType = "message.updated"
	// EventMessageDeleted is persisted: a message was deleted; Message is
	// its tombstone.
	EventMessageDeleted EventType = "message.deleted"
	// EventMemberAdded is persisted: UserID joined the chat.
	EventMemberAdded EventType = "member.added"
	// EventMemberRemoved is persisted: UserID left or was removed. It is
	// the last event of the chat that UserID receives.
	EventMemberRemoved EventType = "member.removed"
	// EventRead says UserID's read marker in ChatID moved to ReadSeq. It
	// is not persisted and goes to every member, the reader included, so
	// that the reader's other devices follow.
	EventRead EventType = "read"
	// EventChatCreated tells every member that a chat they belong to was
	// created; Chat is set.
	EventChatCreated EventType = "chat.created"
	// EventTyping says UserID is typing in ChatID. It is not persisted and
	// is not delivered to UserID's own connections.
	EventTyping EventType = "typing"
	// EventResumed ends the replay a subscription starts with: the
	// subscription is registered and live events follow.
	EventResumed EventType = "resumed"
	// EventResync says that ChatID is too far behind to replay: refetch it
	// over the REST API. Live events of the chat continue afterwards.
	EventResync EventType = "resync"
)

// Event is what a Subscription delivers and what the WebSocket sends, one
// per frame.
type Event struct {
	Type    EventType `json:"type"`
	ChatID  string    `json:"chat_id,omitempty"`
	Seq     int64     `json:"seq,omitempty"`
	Message *Message  `json:"message,omitempty"`
	Chat    *Chat     `json:"chat,omitempty"`
	UserID  string    `json:"user_id,omitempty"`
	ReadSeq int64     `json:"read_seq,omitempty"`
	// Presence is set on EventPresence.
	Presence *Presence `json:"presence,omitempty"`
	// ActorID is who made a role, ban or chat change (see roles.go).
	ActorID string `json:"actor_id,omitempty"`
	// Role is UserID's new role, in member.role events.
	Role Role `json:"role,omitempty"`
	// Info is the chat's title and metadata after a chat.updated event.
	Info *ChatInfo `json:"info,omitempty"`
	// Settings are UserID's settings of the chat after a member.settings
	// event, which only UserID receives.
	Settings *MemberSettings `json:"settings,omitempty"`
	// Reaction is set on reaction.added and reaction.removed events,
	// whose UserID is who reacted.
	Reaction *ReactionEvent `json:"reaction,omitempty"`
}

// Config configures a Service. The zero value of every field except Store
// means the documented default.
type Config struct {
	// Store persists chats and messages. Required.
	Store Store
	// Broker carries notifications between nodes. Nil means this process
	// is the only node: events go straight to local subscribers.
	Broker Broker
	// Logger receives the Service's structured logs. Nil discards them.
	Logger *slog.Logger
	// Limits bounds what clients may send; zero fields take defaults.
	Limits Limits
	// ReplayLimit is the largest number of events a subscription replays
	// for one chat on resume; a chat further behind gets a resync event
	// instead. Default 1000.
	ReplayLimit int
	// QueueSize is the number of events a subscription may hold for its
	// reader. A reader further behind than this on live events is
	// disconnected with ErrSlowConsumer rather than buffered without
	// bound. Replayed events have an allowance of their own (as many
	// again, at most 64), which the replay waits on, so a long replay never
	// crowds live events out. Default 256.
	QueueSize int
	// Hooks let the host app moderate, authorize and react to what users
	// do. See Hooks.
	Hooks Hooks
	// RateLimit bounds how often each user may send, edit and delete
	// messages, create chats and add or remove members.
	// The zero value means no limit.
	RateLimit RateLimit
	// Observer receives the node's measurements, for metrics (see package
	// chatprom). Nil means none.
	Observer Observer
	// Tracer traces REST requests, Store calls and deliveries across
	// nodes (see package chatotel). Nil means none.
	Tracer Tracer
	// DrainDelay is how long Drain (and Shutdown, when Drain was not
	// called) keeps serving after the readiness endpoint
	// (NewHealthHandler) turns to 503, so that load balancers stop sending
	// new clients before connections are closed. Default 0: close at once. Behind a load balancer, set it a little above the
	// balancer's health check interval (5-10 s with Kubernetes defaults).
	DrainDelay time.Duration
	// PublishQueueSize bounds the notifications a node holds for the
	// Broker. Publishing is asynchronous, so a Broker that hangs never
	// delays an answer; past this bound typing and read notifications
	// are dropped and stored ones coalesce per chat (other nodes read the
	// events from the Store). Default 4096.
	PublishQueueSize int
	// TypingInterval is the shortest time between two typing events of
	// one user in one chat that a node fans out; typing signals in
	// between are dropped. Default 2 s; negative disables the throttle.
	TypingInterval time.Duration
	// Presence configures who is online; see PresenceConfig. Off unless
	// Presence.Enabled; it needs a Broker that implements PresenceBroker.
	Presence PresenceConfig
	// ResumeConcurrency bounds the Store calls that resuming
	// subscriptions of the node make at once, replays included. Resumes
	// that wait together share calls: their reads of chat ids become one
	// call, and so do their reads of chat positions, so that clients all
	// reconnecting after a restart queue in the node instead of opening a
	// database session each. Keep it well below the Store's connection
	// pool, which serves the sends too. Default 4
	// (DefaultResumeConcurrency).
	ResumeConcurrency int
	// Blobs keeps the bytes of attachments (see package fsblob and
	// memory.BlobStore). Attachments are on when it is set and Store is
	// an AttachmentStore; otherwise their routes answer 501.
	Blobs BlobStore
	// Attachments bounds uploads and says when unsent ones are deleted.
	Attachments AttachmentConfig
}

// Limits bounds client input. A zero field means its default.
type Limits struct {
	// MaxBodyBytes bounds an HTTP request body. Default 64 KiB.
	MaxBodyBytes int64
	// MaxTextRunes bounds a message's text, in Unicode code points.
	// Default 4000.
	MaxTextRunes int
	// MaxTitleRunes bounds a group title, in code points. Default 200.
	MaxTitleRunes int
	// MaxMembers bounds the members of a chat, the creator included.
	// Default 1000.
	MaxMembers int
	// MaxIDBytes bounds user ids, chat ids and client ids. Default 128.
	MaxIDBytes int
	// MaxMetadataBytes bounds a message's metadata object, as JSON.
	// Default 4 KiB.
	MaxMetadataBytes int
	// MaxChatsPerUser bounds the chats one user can be in, since every
	// connection of a user follows all of them. Creating a chat with, or
	// adding, a user who is in this many chats is ErrInvalid. It is
	// checked before the write, not atomically with it, so concurrent
	// additions may overshoot it by as many as run at once. Default 1000.
	MaxChatsPerUser int
	// MaxInlineMembers bounds the members a chat object carries when the
	// Service returns it (chat lists, GetChat, CreateChat, AddMember): the
	// first ones by user id, plus the viewer's own entry so that clients
	// always have their read marker. Chat.MemberCount tells the whole
	// number; ListMembers (GET /chats/{id}/members) pages the rest.
	// Default 100.
	MaxInlineMembers int
	// MaxReactionsPerMessage bounds the distinct emojis a message may
	// carry as reactions. Default 20.
	MaxReactionsPerMessage int
	// MaxMentions bounds the users one message may mention. Default 50.
	MaxMentions int
}

// Default limits.
const (
	DefaultMaxBodyBytes     = 64 << 10
	DefaultMaxTextRunes     = 4000
	DefaultMaxTitleRunes    = 200
	DefaultMaxMembers       = 1000
	DefaultMaxIDBytes       = 128
	DefaultMaxMetadataBytes = 4 << 10
	DefaultMaxChatsPerUser  = 1000
	DefaultMaxInlineMembers = 100
	DefaultMaxReactions     = 20
	DefaultMaxMentions      = 50
	DefaultReplayLimit      = 1000
	DefaultQueueSize        = 256
)

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxTextRunes <= 0 {
		l.MaxTextRunes = DefaultMaxTextRunes
	}
	if l.MaxTitleRunes <= 0 {
		l.MaxTitleRunes = DefaultMaxTitleRunes
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	if l.MaxIDBytes <= 0 {
		l.MaxIDBytes = DefaultMaxIDBytes
	}
	if l.MaxMetadataBytes <= 0 {
		l.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if l.MaxChatsPerUser <= 0 {
		l.MaxChatsPerUser = DefaultMaxChatsPerUser
	}
	if l.MaxInlineMembers <= 0 {
		l.MaxInlineMembers = DefaultMaxInlineMembers
	}
	if l.MaxReactionsPerMessage <= 0 {
		l.MaxReactionsPerMessage = DefaultMaxReactions
	}
	if l.MaxMentions <= 0 {
		l.MaxMentions = DefaultMaxMentions
	}
	return l
}

// Paging bounds shared by the chat and message lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Service is the chat service of one node: the typed Go API that the HTTP
// and WebSocket handlers are built on, usable directly by in-process code
// such as bots. Every method takes the acting user explicitly and enforces
// membership itself. A Service is safe for concurrent use.
type Service struct {
	store            Store // backend, observed when an Observer or Tracer is set
	backend          Store // the Store as configured, for optional interfaces
	broker           Broker
	log              *slog.Logger
	limits           Limits
	replayLimit      int
	queueSize        int
	now              func() time.Time
	hub              *hub
	hooks            Hooks
	after            *afterSend
	sendLimit        *userLimiter
	createLimit      *userLimiter
	memberLimit      *userLimiter
	observer         Observer
	tracer           Tracer
	drainDelay       time.Duration
	publishQueueSize int
	typingInterval   time.Duration
	resumeSlots      int // Config.ResumeConcurrency
	flow             flowCounts
	groups           groupSet // chats known to be groups, for checkDirectBlock

	mu       sync.Mutex
	closed   bool
	draining context.Context // ends when Shutdown starts
	drain    context.CancelFunc
	closing  context.Context // ends when the drain is over and the Service closes
	shutdown context.CancelFunc
	handlers sync.WaitGroup
	drained  chan struct{} // closed when the drain delay is over
	done     chan struct{} // closed when Shutdown has finished

	connections atomic.Int64 // WebSocket handlers running, for Stats

	presence          *presenceTracker // nil when presence is off
	presenceCapable   bool             // the Broker is a PresenceBroker
	presenceRequested bool             // Config.Presence.Enabled
	attach            attachments
}

// New returns a Service. It starts the goroutines that deliver events to
// subscribers; stop them with Shutdown.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("chat: Config.Store is required")
	}
	if cfg.ReplayLimit < 0 || cfg.QueueSize < 0 || cfg.PublishQueueSize < 0 || cfg.ResumeConcurrency < 0 {
		return nil, errors.New("chat: Config.ReplayLimit, Config.QueueSize, Config.PublishQueueSize and Config.ResumeConcurrency must not be negative")
	}
	s := &Service{
		store:            cfg.Store,
		backend:          cfg.Store,
		drainDelay:       cfg.DrainDelay,
		broker:           cfg.Broker,
		log:              cfg.Logger,
		limits:           cfg.Limits.withDefaults(),
		replayLimit:      cfg.ReplayLimit,
		queueSize:        cfg.QueueSize,
		now:              time.Now,
		hooks:            cfg.Hooks,
		observer:         cfg.Observer,
		tracer:           cfg.Tracer,
		publishQueueSize: cfg.PublishQueueSize,
		typingInterval:   cfg.TypingInterval,
		resumeSlots:      cfg.ResumeConcurrency,
	}
	if s.observer != nil || s.tracer != nil {
		s.store = &observedStore{s: s, store: cfg.Store}
	}
	s.sendLimit = s.newLimiter("send", cfg.RateLimit.Sends)
	s.createLimit = s.newLimiter("create_chat", cfg.RateLimit.ChatCreates)
	s.memberLimit = s.newLimiter("member_change", cfg.RateLimit.MemberChanges)
	s.closing, s.shutdown = context.WithCancel(context.Background())
	s.draining, s.drain = context.WithCancel(context.Background())
	s.drained = make(chan struct{})
	s.done = make(chan struct{})
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.replayLimit == 0 {
		s.replayLimit = DefaultReplayLimit
	}
	if s.queueSize == 0 {
		s.queueSize = DefaultQueueSize
	}
	if s.publishQueueSize == 0 {
		s.publishQueueSize = DefaultPublishQueueSize
	}
	if s.typingInterval == 0 {
		s.typingInterval = DefaultTypingInterval
	}
	if s.resumeSlots == 0 {
		s.resumeSlots = DefaultResumeConcurrency
	}
	h, err := newHub(s)
	if err != nil {
		s.shutdown()
		return nil, err
	}
	s.hub = h
	if s.presence = newPresenceTracker(s, cfg.Presence); s.presence != nil {
		h.spawn(s.presence.run)
	}
	s.after = newAfterSend(s)
	s.initAttachments(cfg)
	return s, nil
}

// Limits returns the limits in force, defaults filled in.
func (s *Service) Limits() Limits { return s.limits }

// Drain turns the readiness endpoint (NewHealthHandler) to 503 and waits
// for Config.DrainDelay, or until ctx ends, while the Service keeps serving
// everyone, so that load balancers stop routing new clients here before
// they are disconnected. Call it first when the process is told to stop,
// then shut down the HTTP server, then the Service. Later calls wait for
// the first one's delay. It returns ctx's error if ctx ended first.
func (s *Service) Drain(ctx context.Context) error {
	s.mu.Lock()
	first := s.draining.Err() == nil
	s.drain()
	s.mu.Unlock()
	if first {
		if s.drainDelay > 0 {
			t := time.NewTimer(s.drainDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		close(s.drained)
	}
	select {
	case <-s.drained:
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops the Service. It drains first, as Drain does, unless that
// was done already; then it closes every subscription (WebSocket
// connections are closed with 1001 going away), stops the Service's
// goroutines and waits for them and for the WebSocket connections to end,
// or for ctx to end. The AfterSend calls still queued are made first,
// within ctx (see Hooks.AfterSend). Calls made after the drain fail with
// ErrClosed. Shutdown does not close the Store or the Broker: they belong
// to the caller. Calling it again waits for the first call's work.
func (s *Service) Shutdown(ctx context.Context) error {
	_ = s.Drain(ctx) // cut short by ctx, the Service still closes
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	s.shutdown()
	s.mu.Unlock()
	if first {
		go func() {
			s.hub.close()
			s.handlers.Wait()
			s.waitAttachments()
			s.after.close()
			s.after.wait()
			close(s.done)
		}()
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.after.abandon()
		return ctx.Err()
	}
}

// stopped reports whether Shutdown has finished.
func (s *Service) stopped() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// checkReady fails with ErrClosed once Shutdown has started, even while
// the Service still serves during its drain.
func (s *Service) checkReady() error {
	if s.draining.Err() != nil {
		return ErrClosed
	}
	return nil
}

func (s *Service) checkOpen() error {
	if s.closing.Err() != nil {
		return ErrClosed
	}
	return nil
}

// timestamp is the Service's clock, at the precision every Store keeps.
func (s *Service) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// CreateChatRequest describes a chat to create. Its JSON form is the body
// of POST /chats.
type CreateChatRequest struct {
	Kind Kind `json:"kind"`
	// Title is an optional group title; direct chats have none.
	Title string `json:"title"`
	// Members are the users to add besides the caller, who is always a
	// member. A direct chat names exactly one other user.
	Members []string `json:"members"`
	// ClientID makes the creation of a group idempotent: a retry with the
	// same creator and ClientID returns the chat the first call created.
	// A direct chat is unique per pair of users without it.
	ClientID string `json:"client_id"`
}

// CreateChat creates a chat with userID as its creator and a member. A
// direct chat is unique per pair of users: if it already exists, from
// either side, CreateChat returns it with created=false. So is a group
// created with a ClientID, per creator: a retry returns the original chat
// with created=false, or ErrConflict if the creator has left it since. A
// new chat is announced with a chat.created event to every member.
//
// Once the chat is stored, CreateChat returns it: a failure to fill in
// the unread count or display names is logged and leaves them out, since
// an error would make the client retry a creation that succeeded.
func (s *Service) CreateChat(ctx context.Context, userID string, req CreateChatRequest) (_ Chat, created bool, _ error) {
	if err := s.checkOpen(); err != nil {
		return Chat{}, false, err
	}
	if err := s.checkID("user id", userID); err != nil {
		return Chat{}, false, err
	}
	if req.ClientID != "" {
		if err := s.checkID("client_id", req.ClientID); err != nil {
			return Chat{}, false, err
		}
	}
	c := Chat{ID: newID(), Kind: req.Kind, CreatedBy: userID, CreatedAt: s.timestamp()}
	c.LastActivityAt = c.CreatedAt
	var key string
	switch req.Kind {
	case KindDirect:
		if req.Title != "" {
			return Chat{}, false, invalidf("a direct chat has no title")
		}
		if len(req.Members) != 1 {
			return Chat{}, false, invalidf("a direct chat has exactly one other member")
		}
		other := req.Members[0]
		if err := s.checkID("member", other); err != nil {
			return Chat{}, false, err
		}
		if other == userID {
			return Chat{}, false, invalidf("a direct chat is with another user")
		}
		if err := s.checkPairBlock(ctx, userID, other); err != nil {
			return Chat{}, false, err
		}
		c.Members = []Member{{UserID: userID}, {UserID: other}}
		key = directChatKey(userID, other)
	case KindGroup:
		if err := s.checkTitle(req.Title); err != nil {
			return Chat{}, false, err
		}
		c.Title = req.Title
		seen := map[string]bool{userID: true}
		c.Members = []Member{{UserID: userID}}
		for _, m := range req.Members {
			if err := s.checkID("member", m); err != nil {
				return Chat{}, false, err
			}
			if seen[m] {
				continue
			}
			seen[m] = true
			c.Members = append(c.Members, Member{UserID: m})
			if len(c.Members) > s.limits.MaxMembers {
				return Chat{}, false, invalidf("a chat has at most %d members", s.limits.MaxMembers)
			}
		}
		if req.ClientID != "" {
			key = groupClientKey(userID, req.ClientID)
		}
	case "":
		return Chat{}, false, invalidf(`kind is required: "direct" or "group"`)
	default:
		return Chat{}, false, invalidf(`unknown kind %q: want "direct" or "group"`, req.Kind)
	}
	sort.Slice(c.Members, func(i, j int) bool { return c.Members[i].UserID < c.Members[j].UserID })

	if err := s.createLimit.allow(userID); err != nil {
		return Chat{}, false, err
	}
	others := make([]string, 0, len(c.Members)-1)
	for _, m := range c.Members {
		if m.UserID != userID {
			others = append(others, m.UserID)
		}
	}
	if err := s.checkUsersExist(ctx, others); err != nil {
		return Chat{}, false, err
	}
	if err := s.checkChatsPerUser(ctx, memberIDs(c)); err != nil {
		// Asking for a direct chat that exists takes no new slot.
		exists, xerr := s.directChatExists(ctx, userID, others)
		if xerr != nil {
			return Chat{}, false, xerr
		}
		if !exists {
			return Chat{}, false, err
		}
	}
	if err := s.authorize(ctx, Action{Kind: ActionCreateChat, UserID: userID, ChatKind: c.Kind, Members: others}); err != nil {
		return Chat{}, false, err
	}

	wctx, cancel := s.writeContext(ctx)
	stored, created, err := s.store.CreateChat(wctx, c, key)
	cancel()
	if err != nil {
		return Chat{}, false, fmt.Errorf("chat: create chat: %w", err)
	}
	if !hasMember(stored, userID) {
		// Only a group found by its client_id can lack its creator, who
		// has left it since: it is no longer theirs to see.
		return Chat{}, false, &requestError{kind: ErrConflict, msg: "client_id was used for a chat you have left"}
	}
	if created {
		s.hub.publishChatCreatedTo(ctx, stored, memberIDs(stored)...)
	}
	return s.decorateStored(ctx, userID, stored, "create chat"), created, nil
}

// directChatKey identifies the pair of a direct chat whichever side creates
// it. Ids cannot contain NUL, so the separator is unambiguous.
func directChatKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "\x00" + b
}

// groupClientKey identifies a group by its creator and the client_id they
// created it with. It has two NULs where a direct chat's key has one, so
// the two never collide in the Store's one key space.
func groupClientKey(creator, clientID string) string {
	return "group\x00" + creator + "\x00" + clientID
}

// GetChat returns a chat userID is a member of, or ErrNotFound. Its
// Members are bounded by Limits.MaxInlineMembers; see Chat.MemberCount.
func (s *Service) GetChat(ctx context.Context, userID, chatID string) (Chat, error) {
	c, err := s.memberChat(ctx, userID, chatID)
	if err != nil {
		return Chat{}, err
	}
	chats := []Chat{c}
	if err := s.decorate(ctx, userID, chats); err != nil {
		return Chat{}, err
	}
	return chats[0], nil
}

// memberChat returns chatID from the Store, with all its members, if
// userID is one of them, or ErrNotFound.
func (s *Service) memberChat(ctx context.Context, userID, chatID string) (Chat, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Chat{}, err
	}
	c, err := s.store.GetChat(ctx, chatID)
	if err != nil {
		return Chat{}, fmt.Errorf("chat: get chat: %w", err)
	}
	if !hasMember(c, userID) {
		return Chat{}, fmt.Errorf("chat: get chat: %w", ErrNotFound)
	}
	return c, nil
}

// decorate fills in what chat objects show their viewer beyond what the
// Store keeps: the member count, unread counts and display names, and
// bounds the members to Limits.MaxInlineMembers, so that neither the
// answer nor the questions to the user directory grow with group sizes.
func (s *Service) decorate(ctx context.Context, userID string, chats []Chat) error {
	for i := range chats {
		chats[i] = s.boundMembers(chats[i], userID)
	}
	if err := s.withUnreadCounts(ctx, userID, chats); err != nil {
		return err
	}
	if err := s.withSettings(ctx, userID, chats); err != nil {
		return err
	}
	return s.withDisplayNames(ctx, chats)
}

// boundMembers sets c.MemberCount and keeps the first MaxInlineMembers
// members and viewer's own entry. Members are sorted by user id, so a
// viewer beyond the first ones goes last.
func (s *Service) boundMembers(c Chat, viewer string) Chat {
	c.MemberCount = len(c.Members)
	n := s.limits.MaxInlineMembers
	if len(c.Members) <= n {
		return c
	}
	kept := c.Members[:n:n]
	for _, m := range c.Members[n:] {
		if m.UserID == viewer {
			kept = append(kept, m)
			break
		}
	}
	c.Members = kept
	return c
}

// checkChatsPerUser fails with ErrInvalid, naming the first of users who
// is in Limits.MaxChatsPerUser chats already.
func (s *Service) checkChatsPerUser(ctx context.Context, users []string) error {
	counts, err := s.countChats(ctx, users)
	if err != nil {
		return fmt.Errorf("chat: count chats: %w", err)
	}
	for _, u := range users {
		if counts[u] >= s.limits.MaxChatsPerUser {
			return invalidf("user %q is in %d chats, the most one user can be in", u, s.limits.MaxChatsPerUser)
		}
	}
	return nil
}

// countChats counts the chats of users in one call if the Store is a
// ChatCounter, and one ChatIDs call per user otherwise.
func (s *Service) countChats(ctx context.Context, users []string) (map[string]int, error) {
	if cc, ok := s.backend.(ChatCounter); ok {
		if o, observed := s.store.(*observedStore); observed {
			return o.countChats(ctx, cc, users)
		}
		return cc.CountChats(ctx, users)
	}
	counts := make(map[string]int, len(users))
	for _, u := range users {
		ids, err := s.store.ChatIDs(ctx, u)
		if err != nil {
			return nil, err
		}
		counts[u] = len(ids)
	}
	return counts, nil
}

// directChatExists reports whether user has a direct chat with others[0],
// the one member a direct chat request names. It reads the two users'
// chat ids, so it is for the rare case of a user at MaxChatsPerUser.
func (s *Service) directChatExists(ctx context.Context, user string, others []string) (bool, error) {
	if len(others) != 1 {
		return false, nil
	}
	mine, err := s.store.ChatIDs(ctx, user)
	if err != nil {
		return false, fmt.Errorf("chat: chat ids: %w", err)
	}
	theirs, err := s.store.ChatIDs(ctx, others[0])
	if err != nil {
		return false, fmt.Errorf("chat: chat ids: %w", err)
	}
	shared := make(map[string]bool, len(mine))
	for _, id := range mine {
		shared[id] = true
	}
	for _, id := range theirs {
		if !shared[id] {
			continue
		}
		c, err := s.store.GetChat(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, fmt.Errorf("chat: get chat: %w", err)
		}
		if err == nil && c.Kind == KindDirect {
			return true, nil
		}
	}
	return false, nil
}

// decorateStored returns c, which a write has just stored, as userID sees
// it. A failure is logged and leaves the missing parts out: the write has
// happened, and an error would make the client retry it. c's members are
// copied first, because c may also be on its way to subscribers.
func (s *Service) decorateStored(ctx context.Context, userID string, c Chat, op string) Chat {
	c.Members = slices.Clone(c.Members)
	c = s.boundMembers(c, userID)
	chats := []Chat{c}
	if err := s.withUnreadCounts(ctx, userID, chats); err != nil {
		s.logDegraded(op, c.ID, err)
	}
	if err := s.withDisplayNames(ctx, chats); err != nil {
		s.logDegraded(op, c.ID, err)
	}
	if err := s.withSettings(ctx, userID, chats); err != nil {
		s.logDegraded(op, c.ID, err)
	}
	return chats[0]
}

func (s *Service) logDegraded(op, chatID string, err error) {
	level := slog.LevelError
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "chat: "+op+" stored; answering without unread count or display names", "chat_id", chatID, "err", err)
}

func memberIDs(c Chat) []string {
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.UserID
	}
	return ids
}

// ChatListQuery selects a page of the caller's chats.
type ChatListQuery struct {
	// Limit is the page size: 0 means DefaultPageSize, more than
	// MaxPageSize means MaxPageSize.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first.
	Cursor string
	// Archived filters by the caller's archived chats: all (the zero
	// value), ArchivedExclude or ArchivedOnly.
	Archived ArchivedFilter
}

// ChatPage is a page of chats, most recent activity first.
type ChatPage struct {
	Chats []Chat `json:"chats"`
	// NextCursor continues the list; "" at the end.
	NextCursor string `json:"next_cursor"`
}

// ListChats returns userID's chats, most recent activity first, each with
// at most Limits.MaxInlineMembers members and userID's own entry (see
// Chat.MemberCount).
func (s *Service) ListChats(ctx context.Context, userID string, q ChatListQuery) (ChatPage, error) {
	if err := s.checkOpen(); err != nil {
		return ChatPage{}, err
	}
	if err := s.checkID("user id", userID); err != nil {
		return ChatPage{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return ChatPage{}, err
	}
	sq := ChatQuery{Limit: limit + 1, Archived: q.Archived}
	switch q.Archived {
	case ArchivedInclude, ArchivedExclude:
	case ArchivedOnly:
		if _, ok := s.backend.(SettingsStore); !ok {
			// Without settings no chat is archived.
			return ChatPage{Chats: []Chat{}}, nil
		}
	default:
		return ChatPage{}, invalidf(`archived must be "include", "exclude" or "only"`)
	}
	if q.Cursor != "" {
		pos, err := decodeChatCursor(q.Cursor)
		if err != nil {
			return ChatPage{}, err
		}
		sq.After = &pos
	}
	chats, err := s.store.ListChats(ctx, userID, sq)
	if err != nil {
		return ChatPage{}, fmt.Errorf("chat: list chats: %w", err)
	}
	page := ChatPage{Chats: chats}
	more := len(chats) > limit
	if more {
		page.Chats = chats[:limit]
	}
	if page.Chats == nil {
		page.Chats = []Chat{}
	}
	if err := s.decorate(ctx, userID, page.Chats); err != nil {
		return ChatPage{}, err
	}
	if more {
		// After decorate, which fills in whether the last chat is pinned.
		last := page.Chats[limit-1]
		page.NextCursor = encodeChatCursor(ChatPosition{LastActivityAt: last.LastActivityAt, ChatID: last.ID, Pinned: last.Settings != nil && last.Settings.Pinned})
	}
	return page, nil
}

func pageLimit(n int) (int, error) {
	switch {
	case n < 0:
		return 0, invalidf("limit must be a positive integer")
	case n == 0:
		return DefaultPageSize, nil
	case n > MaxPageSize:
		return MaxPageSize, nil
	}
	return n, nil
}

// A chat cursor is the position of the last chat of a page: its activity
// time in Unix microseconds and its id, opaque to clients.
func encodeChatCursor(p ChatPosition) string {
	raw := strconv.FormatInt(p.LastActivityAt.UnixMicro(), 10) + ":" + p.ChatID
	if p.Pinned {
		raw = "p" + raw
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeChatCursor(cursor string) (ChatPosition, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return ChatPosition{}, invalidf("cursor is not valid")
	}
	pinnedRaw, pinned := strings.CutPrefix(string(raw), "p")
	micros, id, ok := strings.Cut(pinnedRaw, ":")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" || us < minCursorMicros || us > maxCursorMicros {
		return ChatPosition{}, invalidf("cursor is not valid")
	}
	// Chat ids are text a database can hold; a forged one that is not
	// would be refused there as a server error.
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return ChatPosition{}, invalidf("cursor is not valid")
	}
	return ChatPosition{LastActivityAt: time.UnixMicro(us).UTC(), ChatID: id, Pinned: pinned}, nil
}

// The times a cursor may hold: years 1 to 9999, which every activity time
// is in. Beyond them a Store's database may refuse the time (PostgreSQL
// does before 4714 BC), which would be a server error for a client's
// forged cursor.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// SendMessageRequest is a message to send. Its JSON form is the body of
// POST /chats/{chat_id}/messages.
type SendMessageRequest struct {
	Text string `json:"text"`
	// ClientID makes the send idempotent: a retry with the same sender and
	// ClientID in the same chat returns the original message.
	ClientID string `json:"client_id"`
	// Metadata is an optional JSON object stored and returned verbatim.
	Metadata json.RawMessage `json:"metadata"`
	// ReplyTo, if not 0, is the seq of the message of the same chat this
	// one replies to. It needs a ThreadStore.
	ReplyTo int64 `json:"reply_to,omitempty"`
	// Mentions are user ids of members the message mentions. It needs a
	// MentionStore.
	Mentions []string `json:"mentions,omitempty"`
	// Attachments are ids of attachments the sender uploaded to the chat
	// (Service.UploadAttachment) and has not sent yet. With attachments,
	// Text may be empty.
	Attachments []string `json:"attachments,omitempty"`
}

// SendMessage stores a message from userID in chatID and delivers it to
// every member's subscriptions. It returns ErrNotFound if the chat does not
// exist or userID is not a member. A retry with the same ClientID returns
// the original message with created=false. Membership is checked before
// the send counts against the rate limit and before the BeforeSend hook
// runs, so that non-members can neither spend a member's budget nor probe
// the host's moderation.
func (s *Service) SendMessage(ctx context.Context, userID, chatID string, req SendMessageRequest) (_ Message, created bool, _ error) {
	start := time.Now()
	if err := s.checkCaller(userID, chatID); err != nil {
		return Message{}, false, err
	}
	m, err := s.newMessage(userID, chatID, req)
	if err != nil {
		return Message{}, false, err
	}
	// The Store checks membership atomically when it appends; the read
	// here is only needed when something runs before that.
	if s.sendLimit != nil || s.hooks.BeforeSend != nil {
		if err := s.checkMember(ctx, userID, chatID); err != nil {
			return Message{}, false, err
		}
	}
	if err := s.checkDirectBlock(ctx, userID, chatID); err != nil {
		return Message{}, false, err
	}
	if err := s.sendLimit.allow(userID); err != nil {
		return Message{}, false, err
	}
	if m, err = s.beforeSend(ctx, m); err != nil {
		return Message{}, false, err
	}
	if err := s.checkReplyAndMentions(ctx, m); err != nil {
		return Message{}, false, err
	}
	wctx, cancel := s.writeContext(ctx)
	stored, created, err := s.appendMessage(wctx, m)
	cancel()
	if err != nil {
		s.writeFailed(chatID, err)
		return Message{}, false, sendError(m, err)
	}
	s.observe(MessageStoredObserved{Duration: time.Since(start), Created: created})
	if created {
		s.Announce(ctx, stored)
	} else {
		// A retry: the first attempt may have stored the message without
		// announcing it (its caller gone, its node stopped). Announcing
		// again is harmless, readers drop a seq they have; AfterSend ran
		// or was meant to run for the first attempt.
		s.hub.publishEvent(ctx, Event{Type: EventMessageCreated, ChatID: stored.ChatID, Seq: stored.Seq, Message: &stored})
	}
	return stored, created, nil
}

// NewMessage validates req and returns the message SendMessage would
// store, with its timestamp set and no seq yet. Together with Announce it
// lets a host store a message through its Store inside its own database
// transaction (see postgres.Store.AppendMessageTx) and publish it after
// commit. NewMessage does not check membership: the Store does, when it
// appends. It refuses attachments, which only SendMessage references
// atomically with the append.
func (s *Service) NewMessage(userID, chatID string, req SendMessageRequest) (Message, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Message{}, err
	}
	if len(req.Attachments) > 0 {
		return Message{}, invalidf("attachments are sent with SendMessage only")
	}
	return s.newMessage(userID, chatID, req)
}

func (s *Service) newMessage(userID, chatID string, req SendMessageRequest) (Message, error) {
	attachments, err := s.messageAttachments(req.Attachments)
	if err != nil {
		return Message{}, err
	}
	if err := s.checkMessageText(req.Text, len(attachments)); err != nil {
		return Message{}, err
	}
	if req.ClientID != "" {
		if err := s.checkID("client_id", req.ClientID); err != nil {
			return Message{}, err
		}
	}
	md, err := s.checkMetadata(req.Metadata)
	if err != nil {
		return Message{}, err
	}
	if req.ReplyTo < 0 {
		return Message{}, invalidf("reply_to must be a positive seq")
	}
	mentions, err := s.checkMentions(req.Mentions)
	if err != nil {
		return Message{}, err
	}
	return Message{
		ChatID:      chatID,
		Sender:      userID,
		Text:        req.Text,
		ClientID:    req.ClientID,
		Metadata:    md,
		CreatedAt:   s.timestamp(),
		ReplyTo:     req.ReplyTo,
		Mentions:    mentions,
		Attachments: attachments,
	}, nil
}

// Announce delivers a stored message to the chat's subscriptions on every
// node. SendMessage calls it; call it yourself only after committing a
// message you appended through the Store directly. Delivery never fails
// the caller: a notification the Broker loses is recovered from the Store.
func (s *Service) Announce(ctx context.Context, m Message) {
	s.hub.publishEvent(ctx, Event{Type: EventMessageCreated, ChatID: m.ChatID, Seq: m.Seq, Message: &m})
	s.after.enqueue(m)
}

// beforeSend runs the BeforeSend hook and validates what it made of m.
func (s *Service) beforeSend(ctx context.Context, m Message) (Message, error) {
	if s.hooks.BeforeSend == nil {
		return m, nil
	}
	d := Draft{ChatID: m.ChatID, Sender: m.Sender, Text: m.Text, Metadata: m.Metadata}
	if err := s.hooks.BeforeSend(ctx, &d); err != nil {
		if errors.Is(err, ErrRejected) {
			s.observe(HookRejectedObserved{Hook: "BeforeSend"})
		}
		return Message{}, hookError("BeforeSend", err)
	}
	if err := s.checkMessageText(d.Text, len(m.Attachments)); err != nil {
		// The hook's output is the host's bug, not the client's: %v
		// keeps it from reading as a 400.
		return Message{}, fmt.Errorf("chat: BeforeSend hook made the text invalid: %v", err)
	}
	md, err := s.checkMetadata(d.Metadata)
	if err != nil {
		return Message{}, fmt.Errorf("chat: BeforeSend hook made the metadata invalid: %v", err)
	}
	m.Text, m.Metadata = d.Text, md
	return m, nil
}

// MessagePage is a window of a chat's messages in ascending seq order.
type MessagePage struct {
	Messages []Message `json:"messages"`
	// HasMore says whether more messages exist in the direction paged:
	// older ones when paging backward, newer ones when paging forward.
	HasMore bool `json:"has_more"`
}

// ListMessages returns a window of chatID's messages, selected by q as
// GET /chats/{chat_id}/messages does: the newest, those before a seq, or
// those after a seq. q.Limit 0 means DefaultPageSize; above MaxPageSize it
// is clamped.
func (s *Service) ListMessages(ctx context.Context, userID, chatID string, q MessageQuery) (MessagePage, error) {
	return s.messagePage(ctx, userID, chatID, q, func(ctx context.Context, q MessageQuery) ([]Message, error) {
		msgs, err := s.store.ListMessages(ctx, chatID, q)
		if err != nil {
			return nil, fmt.Errorf("chat: list messages: %w", err)
		}
		return msgs, nil
	})
}

// messagePage validates q, checks that userID is a member of chatID, and
// returns the window of messages that list selects for q, userID's
// reactions marked.
func (s *Service) messagePage(ctx context.Context, userID, chatID string, q MessageQuery, list func(context.Context, MessageQuery) ([]Message, error)) (MessagePage, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return MessagePage{}, err
	}
	if q.Forward && q.Before != 0 {
		return MessagePage{}, invalidf("before and after cannot be combined")
	}
	if q.Before < 0 || q.After < 0 {
		return MessagePage{}, invalidf("before and after must not be negative")
	}
	if err := s.checkMember(ctx, userID, chatID); err != nil {
		return MessagePage{}, err
	}
	q.Limit = limit + 1
	msgs, err := list(ctx, q)
	if err != nil {
		return MessagePage{}, err
	}
	page := MessagePage{Messages: msgs}
	if len(msgs) > limit {
		page.HasMore = true
		if q.Forward {
			page.Messages = msgs[:limit]
		} else {
			page.Messages = msgs[1:]
		}
	}
	if page.Messages == nil {
		page.Messages = []Message{}
	}
	if err := s.withMyReactions(ctx, userID, chatID, page.Messages); err != nil {
		return MessagePage{}, err
	}
	return page, nil
}

// Typing tells the other members of chatID that userID is typing.
func (s *Service) Typing(ctx context.Context, userID, chatID string) error {
	if err := s.checkMember(ctx, userID, chatID); err != nil {
		return err
	}
	s.hub.publishTyping(userID, chatID)
	return nil
}

// checkMember fails with ErrNotFound unless userID is a member of chatID.
func (s *Service) checkMember(ctx context.Context, userID, chatID string) error {
	if err := s.checkCaller(userID, chatID); err != nil {
		return err
	}
	if _, err := s.store.GetMember(ctx, chatID, userID); err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	return nil
}

func (s *Service) checkCaller(userID, chatID string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.checkID("user id", userID); err != nil {
		return err
	}
	if err := s.checkID("chat id", chatID); err != nil {
		// A malformed id cannot name a chat the caller is in.
		return fmt.Errorf("chat: %w", ErrNotFound)
	}
	return nil
}

// checkID accepts what can safely be a key everywhere: non-empty valid
// UTF-8 within MaxIDBytes and without control characters.
func (s *Service) checkID(what, id string) error {
	if what == "user id" && id == "" {
		return ErrUnauthenticated
	}
	if id == "" {
		return invalidf("%s is empty", what)
	}
	if len(id) > s.limits.MaxIDBytes {
		return invalidf("%s is longer than %d bytes", what, s.limits.MaxIDBytes)
	}
	if !utf8.ValidString(id) {
		return invalidf("%s is not valid UTF-8", what)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return invalidf("%s contains a control character", what)
		}
	}
	return nil
}

func (s *Service) checkText(text string) error {
	// NUL is valid UTF-8 but no text, and PostgreSQL cannot store it.
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return invalidf("text is not valid UTF-8 text")
	}
	if strings.TrimSpace(text) == "" {
		return invalidf("text must contain a non-whitespace character")
	}
	if n := utf8.RuneCountInString(text); n > s.limits.MaxTextRunes {
		return invalidf("text has %d characters, more than %d", n, s.limits.MaxTextRunes)
	}
	return nil
}

// checkMessageText is checkText, except that a message with attachments
// may have no text.
func (s *Service) checkMessageText(text string, attachments int) error {
	if attachments > 0 && text == "" {
		return nil
	}
	return s.checkText(text)
}

func (s *Service) checkMetadata(md json.RawMessage) (json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(md))
	if trimmed == "" || trimmed == "null" {
		return nil, nil
	}
	if len(md) > s.limits.MaxMetadataBytes {
		return nil, invalidf("metadata is larger than %d bytes", s.limits.MaxMetadataBytes)
	}
	if trimmed[0] != '{' || !json.Valid(md) {
		return nil, invalidf("metadata must be a JSON object")
	}
	return append(json.RawMessage(nil), md...), nil
}

// newID returns a random 128-bit id in hex.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("chat: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
