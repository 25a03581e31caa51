package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/embedchat/chat/internal/origin"
)

// Authenticator returns the id of the user making r, or "" when r carries
// no identity (the handlers then answer 401). A non-nil error is a system
// failure and answers 500. Authentication belongs to the host app: wrap its
// session lookup in an Authenticator, or let its middleware put the user in
// the request context with WithUser and leave HandlerConfig.Authenticate
// nil.
type Authenticator func(r *http.Request) (userID string, err error)

type userKey struct{}

// WithUser returns a copy of ctx that carries userID, for host middleware
// that authenticates requests before they reach the chat handlers.
func WithUser(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userKey{}, userID)
}

// UserFromContext returns the user id stored by WithUser, or "".
func UserFromContext(ctx context.Context) string {
	id, _ := ctx.Value(userKey{}).(string)
	return id
}

// HandlerConfig configures the REST handler. The zero value is usable: the
// user comes from the request context (WithUser).
type HandlerConfig struct {
	// Authenticate identifies the caller. Nil means UserFromContext.
	Authenticate Authenticator
	// Prefix is stripped from request paths before routing, for routers
	// that mount handlers without stripping their prefix (chi's Mount, for
	// one). Leave it empty with http.StripPrefix or a ServeMux pattern
	// that strips.
	Prefix string
	// OriginPatterns lists the browser origins, besides the API's own,
	// trusted to make unsafe requests (POST, PATCH, DELETE): path.Match
	// patterns on the Origin's host, e.g. "app.example.com" or
	// "*.example.com", or on scheme://host when the pattern contains
	// "://", as for WebSocketConfig.OriginPatterns. Empty means same
	// origin only. Requests that carry no browser headers (Sec-Fetch-Site,
	// Origin), such as those of curl, mobile apps and servers, are never
	// refused as cross-origin.
	OriginPatterns []string
}

// authenticate identifies the caller of r with auth (UserFromContext when
// nil), answering the client itself when it cannot: 401 without identity,
// 400 for an id that breaks the limits, 500 when auth fails.
func authenticate(w http.ResponseWriter, r *http.Request, auth Authenticator, svc *Service) (string, bool) {
	user := UserFromContext(r.Context())
	if auth != nil {
		var err error
		if user, err = auth(r); err != nil {
			svc.log.Error("chat: authenticating request", "err", err)
			writeError(w, svc.log, http.StatusInternalServerError, "internal", "internal error")
			return "", false
		}
	}
	if err := svc.checkID("user id", user); err != nil {
		writeServiceError(w, svc.log, err)
		return "", false
	}
	return user, true
}

// NewHandler returns the REST API of svc as an http.Handler, to be mounted
// under any prefix. See docs/protocol.md for the routes and their JSON.
//
// Unsafe requests (POST, PATCH, DELETE) that a browser marks as coming from
// another origin (by Sec-Fetch-Site or Origin) are refused with 403, unless
// the origin matches cfg.OriginPatterns, and request bodies must be
// application/json (415 otherwise): together these stop other sites from
// making a signed-in user's browser act on their behalf.
func NewHandler(svc *Service, cfg HandlerConfig) http.Handler {
	if err := origin.Validate(cfg.OriginPatterns); err != nil {
		svc.log.Error("chat: HandlerConfig.OriginPatterns: the pattern matches no origin", "err", err)
	}
	h := &restHandler{svc: svc, cfg: cfg, crossOrigin: http.NewCrossOriginProtection()}
	if svc.observer != nil || svc.tracer != nil {
		return observedHandler{h}
	}
	return h
}

type restHandler struct {
	svc         *Service
	cfg         HandlerConfig
	crossOrigin *http.CrossOriginProtection
	mountWarned atomic.Bool
}

// crossOriginRefused says whether r is an unsafe request from a browser on
// an origin that is neither the API's own nor trusted by
// cfg.OriginPatterns.
func (h *restHandler) crossOriginRefused(r *http.Request) bool {
	if h.crossOrigin.Check(r) == nil {
		return false
	}
	ok, err := origin.Match(r.Header.Get("Origin"), h.cfg.OriginPatterns)
	return err != nil || !ok
}

func (h *restHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, ok := h.route(r)
	if !ok {
		h.warnMount(r.URL.EscapedPath())
		writeError(w, h.svc.log, http.StatusNotFound, "not_found", "no such route")
		return
	}
	if h.crossOriginRefused(r) {
		writeError(w, h.svc.log, http.StatusForbidden, "forbidden", "cross-origin request refused")
		return
	}
	user, ok := authenticate(w, r, h.cfg.Authenticate, h.svc)
	if !ok {
		return
	}
	limit := h.svc.limits.MaxBodyBytes
	if isUpload(segs, r) {
		limit = h.svc.attach.cfg.MaxBytes + 1
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)

	switch {
	case segs[0] == "search":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, h.svc.log, "GET")
			return
		}
		h.search(w, r, user)
	case segs[0] == "blocks":
		h.serveBlocks(w, r, user, segs)
	case len(segs) == 1:
		switch r.Method {
		case http.MethodPost:
			h.createChat(w, r, user)
		case http.MethodGet:
			h.listChats(w, r, user)
		default:
			methodNotAllowed(w, h.svc.log, "GET, POST")
		}
	case len(segs) == 2:
		switch r.Method {
		case http.MethodGet:
			h.getChat(w, r, user, segs[1])
		case http.MethodPatch:
			h.updateChat(w, r, user, segs[1])
		default:
			methodNotAllowed(w, h.svc.log, "GET, PATCH")
		}
	case len(segs) == 3 && segs[2] == "messages":
		switch r.Method {
		case http.MethodPost:
			h.sendMessage(w, r, user, segs[1])
		case http.MethodGet:
			h.listMessages(w, r, user, segs[1])
		default:
			methodNotAllowed(w, h.svc.log, "GET, POST")
		}
	case len(segs) == 4 && segs[2] == "messages":
		switch r.Method {
		case http.MethodPatch:
			h.editMessage(w, r, user, segs[1], segs[3])
		case http.MethodDelete:
			h.deleteMessage(w, r, user, segs[1], segs[3])
		default:
			methodNotAllowed(w, h.svc.log, "PATCH, DELETE")
		}
	case len(segs) == 3 && segs[2] == "read":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, h.svc.log, "POST")
			return
		}
		h.markRead(w, r, user, segs[1])
	case len(segs) == 3 && segs[2] == "members":
		switch r.Method {
		case http.MethodPost:
			h.addMember(w, r, user, segs[1])
		case http.MethodGet:
			h.listMembers(w, r, user, segs[1])
		default:
			methodNotAllowed(w, h.svc.log, "GET, POST")
		}
	case len(segs) == 3 && segs[2] == "presence":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, h.svc.log, "GET")
			return
		}
		h.chatPresence(w, r, user, segs[1])
	case len(segs) == 4 && segs[2] == "members":
		switch r.Method {
		case http.MethodDelete:
			h.removeMember(w, r, user, segs[1], segs[3])
		case http.MethodPatch:
			h.setRole(w, r, user, segs[1], segs[3])
		default:
			methodNotAllowed(w, h.svc.log, "PATCH, DELETE")
		}
	case len(segs) >= 3 && segs[2] == "bans":
		h.serveBans(w, r, user, segs)
	case len(segs) == 3 && segs[2] == "settings":
		if r.Method != http.MethodPatch {
			methodNotAllowed(w, h.svc.log, "PATCH")
			return
		}
		h.updateSettings(w, r, user, segs[1])
	case len(segs) == 3 && segs[2] == "attachments":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, h.svc.log, "POST")
			return
		}
		h.uploadAttachment(w, r, user, segs[1])
	case len(segs) == 4 && segs[2] == "attachments":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, h.svc.log, "GET")
			return
		}
		h.downloadAttachment(w, r, user, segs[1], segs[3])
	case len(segs) > 4:
		h.serveMessageParts(w, r, user, segs)
	default:
		writeError(w, h.svc.log, http.StatusNotFound, "not_found", "no such route")
	}
}

// route splits the path below the mount point into unescaped segments and
// checks that it names one of the API's resources.
func (h *restHandler) route(r *http.Request) ([]string, bool) {
	p := r.URL.EscapedPath()
	if h.cfg.Prefix != "" {
		rest, ok := strings.CutPrefix(p, strings.TrimSuffix(h.cfg.Prefix, "/"))
		if !ok || (rest != "" && rest[0] != '/') {
			return nil, false
		}
		p = rest
	}
	p = strings.Trim(p, "/")
	raw := strings.Split(p, "/")
	if len(raw) == 1 && raw[0] == "search" {
		return raw, true
	}
	if len(raw) == 0 || raw[0] != "chats" && raw[0] != "blocks" || len(raw) > maxRouteSegments || raw[0] == "blocks" && len(raw) > 2 {
		return nil, false
	}
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, false
		}
		segs[i] = u
	}
	// Below a chat, only the documented resources exist: anything else
	// is 404 before authentication, as for paths outside /chats.
	switch {
	case len(segs) == 3 && segs[2] != "messages" && segs[2] != "read" && segs[2] != "members" && segs[2] != "bans" && segs[2] != "settings" && segs[2] != "attachments" && segs[2] != "presence",
		len(segs) == 4 && segs[2] != "messages" && segs[2] != "members" && segs[2] != "bans" && segs[2] != "attachments",
		len(segs) > 4 && !isMessagePart(segs):
		return nil, false
	}
	return segs, true
}

// warnMount logs, once per handler, a request path that shows the handler
// mounted the wrong way, naming the fix: every route then answers 404, and
// the host should not have to guess why.
func (h *restHandler) warnMount(p string) {
	prefix := strings.TrimSuffix(h.cfg.Prefix, "/")
	var msg string
	if rest := strings.TrimPrefix(p, "/"); prefix != "" && !strings.HasPrefix(p, prefix+"/") && (rest == "chats" || strings.HasPrefix(rest, "chats/")) {
		msg = fmt.Sprintf("chat: REST handler got %q, without HandlerConfig.Prefix %q: the prefix was already stripped (by http.StripPrefix or the router), so leave HandlerConfig.Prefix empty", p, prefix)
	} else if carried, ok := carriedPrefix(p); ok {
		msg = fmt.Sprintf("chat: REST handler got %q, whose path still carries the mount prefix %q: wrap the handler in http.StripPrefix(%q, ...) or set HandlerConfig.Prefix to %q", p, carried, carried, carried)
	}
	if msg != "" && h.mountWarned.CompareAndSwap(false, true) {
		h.svc.log.Warn(msg + "; until then every request answers 404")
	}
}

// carriedPrefix returns what precedes a route of the API in p ("/api/v1"
// in "/api/v1/chats/x"), if p looks like one below some prefix.
func carriedPrefix(p string) (string, bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i := 1; i < len(segs); i++ {
		if segs[i] == "chats" && len(segs)-i <= maxRouteSegments {
			return "/" + strings.Join(segs[:i], "/"), true
		}
	}
	return "", false
}

func (h *restHandler) createChat(w http.ResponseWriter, r *http.Request, user string) {
	var req CreateChatRequest
	if !h.decode(w, r, &req) {
		return
	}
	c, created, err := h.svc.CreateChat(r.Context(), user, req)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, h.svc.log, status, c)
}

func (h *restHandler) listChats(w http.ResponseWriter, r *http.Request, user string) {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	archived := ArchivedFilter(q.Get("archived"))
	if archived == "include" {
		archived = ArchivedInclude
	}
	page, err := h.svc.ListChats(r.Context(), user, ChatListQuery{Limit: limit, Cursor: q.Get("cursor"), Archived: archived})
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, page)
}

func (h *restHandler) getChat(w http.ResponseWriter, r *http.Request, user, chatID string) {
	c, err := h.svc.GetChat(r.Context(), user, chatID)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, c)
}

func (h *restHandler) sendMessage(w http.ResponseWriter, r *http.Request, user, chatID string) {
	var req SendMessageRequest
	if !h.decode(w, r, &req) {
		return
	}
	m, created, err := h.svc.SendMessage(r.Context(), user, chatID, req)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, h.svc.log, status, m)
}

func (h *restHandler) listMessages(w http.ResponseWriter, r *http.Request, user, chatID string) {
	h.messagePage(w, r, user, chatID, func(mq MessageQuery) (MessagePage, error) {
		return h.svc.ListMessages(r.Context(), user, chatID, mq)
	})
}

// messagePage answers the window of messages of chatID that list selects
// for the request's ?limit=, ?before= and ?after=.
func (h *restHandler) messagePage(w http.ResponseWriter, r *http.Request, user, chatID string, list func(MessageQuery) (MessagePage, error)) {
	mq, none, err := messageQuery(r.URL.Query())
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	if none {
		h.emptyPage(w, r, user, chatID)
		return
	}
	page, err := list(mq)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, page)
}

// messageQuery parses the ?limit=, ?before= and ?after= of a message
// window. none says that the window is empty (before=0).
func messageQuery(q url.Values) (mq MessageQuery, none bool, err error) {
	if mq.Limit, err = queryLimit(q); err != nil {
		return mq, false, err
	}
	if q.Has("before") && q.Has("after") {
		return mq, false, invalidf("before and after cannot be combined")
	}
	if q.Has("before") {
		if mq.Before, err = querySeq(q, "before"); err != nil {
			return mq, false, err
		}
		if mq.Before == 0 {
			return mq, true, nil
		}
	}
	if q.Has("after") {
		mq.Forward = true
		if mq.After, err = querySeq(q, "after"); err != nil {
			return mq, false, err
		}
	}
	return mq, false, nil
}

// emptyPage answers an empty window of messages: seq < 0 selects nothing.
// It says so to members only, rather than list the newest.
func (h *restHandler) emptyPage(w http.ResponseWriter, r *http.Request, user, chatID string) {
	if err := h.svc.checkMember(r.Context(), user, chatID); err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, MessagePage{Messages: []Message{}})
}

// EditMessageRequest is the body of PATCH /chats/{chat_id}/messages/{seq}.
type EditMessageRequest struct {
	Text string `json:"text"`
}

func (h *restHandler) editMessage(w http.ResponseWriter, r *http.Request, user, chatID, rawSeq string) {
	seq, err := pathSeq(rawSeq)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	var req EditMessageRequest
	if !h.decode(w, r, &req) {
		return
	}
	m, err := h.svc.EditMessage(r.Context(), user, chatID, seq, req.Text)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, m)
}

func (h *restHandler) deleteMessage(w http.ResponseWriter, r *http.Request, user, chatID, rawSeq string) {
	seq, err := pathSeq(rawSeq)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	m, err := h.svc.DeleteMessage(r.Context(), user, chatID, seq)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, m)
}

// pathSeq parses a message seq in a path: a positive integer.
func pathSeq(raw string) (int64, error) {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalidf("message seq must be a positive integer")
	}
	return n, nil
}

// MarkReadRequest is the body of POST /chats/{chat_id}/read.
type MarkReadRequest struct {
	Seq *int64 `json:"seq"`
}

// ReadMarker is the reply of POST /chats/{chat_id}/read.
type ReadMarker struct {
	ChatID  string `json:"chat_id"`
	UserID  string `json:"user_id"`
	ReadSeq int64  `json:"read_seq"`
}

func (h *restHandler) markRead(w http.ResponseWriter, r *http.Request, user, chatID string) {
	var req MarkReadRequest
	if !h.decode(w, r, &req) {
		return
	}
	if req.Seq == nil {
		writeServiceError(w, h.svc.log, invalidf("seq is required"))
		return
	}
	read, err := h.svc.MarkRead(r.Context(), user, chatID, *req.Seq)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, ReadMarker{ChatID: chatID, UserID: user, ReadSeq: read})
}

// AddMemberRequest is the body of POST /chats/{chat_id}/members.
type AddMemberRequest struct {
	UserID string `json:"user_id"`
}

func (h *restHandler) addMember(w http.ResponseWriter, r *http.Request, user, chatID string) {
	var req AddMemberRequest
	if !h.decode(w, r, &req) {
		return
	}
	c, added, err := h.svc.AddMember(r.Context(), user, chatID, req.UserID)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, h.svc.log, status, c)
}

func (h *restHandler) listMembers(w http.ResponseWriter, r *http.Request, user, chatID string) {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	page, err := h.svc.ListMembers(r.Context(), user, chatID, MemberQuery{After: q.Get("after"), Limit: limit})
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, page)
}

func (h *restHandler) removeMember(w http.ResponseWriter, r *http.Request, user, chatID, member string) {
	if err := h.svc.RemoveMember(r.Context(), user, chatID, member); err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// queryLimit parses ?limit=: absent is 0 (the default); present, it must be
// a positive integer.
func queryLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n <= 0 {
		return 0, invalidf("limit must be a positive integer")
	}
	return n, nil
}

func querySeq(q url.Values, name string) (int64, error) {
	n, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil || n < 0 {
		return 0, invalidf("%s must be a non-negative integer", name)
	}
	return n, nil
}

// decode reads a JSON object body into v, answering the client itself when
// it cannot. Only application/json is read: the content types an HTML form
// or a simple cross-site fetch can send are answered 415.
func (h *restHandler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, h.svc.log, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"request body must be JSON sent with Content-Type: application/json")
		return false
	}
	err := decodeJSON(r.Body, v)
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = tooLargef("request body is larger than %d bytes", tooBig.Limit)
	}
	writeServiceError(w, h.svc.log, err)
	return false
}

func decodeJSON(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return invalidf("reading request body: %v", err)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; the
	// contract refuses it instead.
	if !utf8.Valid(data) {
		return invalidf("request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return invalidf("request body is empty")
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
			return invalidf("request body is not valid JSON")
		case errors.As(err, &typeErr):
			if typeErr.Field != "" {
				return invalidf("field %s has the wrong type", typeErr.Field)
			}
			return invalidf("request body must be a JSON object")
		default:
			return invalidf("request body is not valid JSON")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidf("request body has data after the JSON object")
	}
	return nil
}

// errorCodes is the one place that maps errors to HTTP statuses and wire
// error codes, most specific first. A fixed message replaces whatever the
// error says where the error's text is not for clients.
var errorCodes = []struct {
	err    error
	status int
	code   string
	fixed  string
}{
	// The request's context is cancelled when its client goes away. First,
	// because whatever else failed with it, the client caused it and is no
	// longer listening: that is no server error.
	{context.Canceled, statusClientClosedRequest, "canceled", "request canceled by the client"},
	{ErrInvalid, http.StatusBadRequest, "invalid_request", ""},
	{ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", ""},
	{ErrForbidden, http.StatusForbidden, "forbidden", ""},
	{ErrNotFound, http.StatusNotFound, "not_found", ""},
	{ErrConflict, http.StatusConflict, "conflict", ""},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large", ""},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
	{ErrRejected, http.StatusUnprocessableEntity, "rejected", ""},
	{ErrRateLimited, http.StatusTooManyRequests, "rate_limited", "too many requests, retry later"},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "service temporarily unavailable, retry later"},
	{ErrClosed, http.StatusServiceUnavailable, "unavailable", "service temporarily unavailable, retry later"},
	{ErrNotImplemented, http.StatusNotImplemented, "not_implemented", ""},
}

// statusClientClosedRequest is the status the REST handler gives a request
// whose client went away before the answer was ready (its context was
// cancelled). Nobody reads it; it is what access logs and metrics see, so
// that a client's disconnection is not counted as a server error. 499 is
// the code nginx and grpc-gateway use for the same thing.
const statusClientClosedRequest = 499

// retryAfterSeconds is the Retry-After of a 503: a whole number of seconds
// drawn uniformly from 1 to 5, so that the clients of an outage do not all
// come back in the same second.
func retryAfterSeconds() string {
	return strconv.Itoa(1 + rand.IntN(5))
}

// errorStatus maps err to its status, code and a message safe to show:
// internals are never included.
func errorStatus(err error) (status int, code, msg string) {
	for _, e := range errorCodes {
		if !errors.Is(err, e.err) {
			continue
		}
		switch msg = clientMessage(err); {
		case e.fixed != "":
			msg = e.fixed
		case msg == "":
			msg = strings.TrimPrefix(e.err.Error(), "chat: ")
		}
		return e.status, e.code, msg
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeServiceError(w http.ResponseWriter, log *slog.Logger, err error) {
	status, code, msg := errorStatus(err)
	switch {
	case status == statusClientClosedRequest:
		log.Debug("chat: request canceled by the client", "err", err)
	case status == http.StatusServiceUnavailable:
		log.Warn("chat: request failed", "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds())
	case status >= 500:
		log.Error("chat: request failed", "err", err)
	}
	var limited *RateLimitError
	if errors.As(err, &limited) {
		secs := int64(math.Ceil(limited.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	writeError(w, log, status, code, msg)
}

func writeError(w http.ResponseWriter, log *slog.Logger, status int, code, msg string) {
	writeJSON(w, log, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

func methodNotAllowed(w http.ResponseWriter, log *slog.Logger, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, log, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("method not allowed; use %s", allow))
}

func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		log.Error("chat: encoding response", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
