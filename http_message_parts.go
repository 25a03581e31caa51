package chat

import (
	"net/http"
)

// maxRouteSegments is the most path segments a route has:
// chats/{id}/messages/{seq}/reactions/{emoji}.
const maxRouteSegments = 6

// isMessagePart says whether segs, longer than four, name a part of a
// message: its thread (chats/{id}/messages/{seq}/replies) or one of its
// reactions (chats/{id}/messages/{seq}/reactions/{emoji}).
func isMessagePart(segs []string) bool {
	if segs[2] != "messages" {
		return false
	}
	switch len(segs) {
	case 5:
		return segs[4] == "replies"
	case 6:
		return segs[4] == "reactions"
	}
	return false
}

// serveMessageParts serves the routes isMessagePart accepts.
func (h *restHandler) serveMessageParts(w http.ResponseWriter, r *http.Request, user string, segs []string) {
	chatID := segs[1]
	seq, err := pathSeq(segs[3])
	if len(segs) == 5 {
		if r.Method != http.MethodGet {
			methodNotAllowed(w, h.svc.log, "GET")
			return
		}
		if err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		h.listReplies(w, r, user, chatID, seq)
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		methodNotAllowed(w, h.svc.log, "PUT, DELETE")
		return
	}
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	react := h.svc.React
	if r.Method == http.MethodDelete {
		react = h.svc.Unreact
	}
	m, err := react(r.Context(), user, chatID, seq, segs[5])
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, m)
}

func (h *restHandler) listReplies(w http.ResponseWriter, r *http.Request, user, chatID string, parentSeq int64) {
	h.messagePage(w, r, user, chatID, func(mq MessageQuery) (MessagePage, error) {
		return h.svc.ListReplies(r.Context(), user, chatID, parentSeq, mq)
	})
}
