package chat

import "net/http"

// The REST handlers of roles and moderation, member settings and blocks
// (roles.go, settings.go, blocks.go).

func (h *restHandler) updateChat(w http.ResponseWriter, r *http.Request, user, chatID string) {
	var req UpdateChatRequest
	if !h.decode(w, r, &req) {
		return
	}
	c, err := h.svc.UpdateChat(r.Context(), user, chatID, req)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, c)
}

func (h *restHandler) setRole(w http.ResponseWriter, r *http.Request, user, chatID, member string) {
	var req SetRoleRequest
	if !h.decode(w, r, &req) {
		return
	}
	m, err := h.svc.SetRole(r.Context(), user, chatID, member, req.Role)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, m)
}

// serveBans serves /chats/{chat_id}/bans and /chats/{chat_id}/bans/{user_id}.
func (h *restHandler) serveBans(w http.ResponseWriter, r *http.Request, user string, segs []string) {
	chatID := segs[1]
	if len(segs) == 4 {
		if r.Method != http.MethodDelete {
			methodNotAllowed(w, h.svc.log, "DELETE")
			return
		}
		if err := h.svc.UnbanMember(r.Context(), user, chatID, segs[3]); err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch r.Method {
	case http.MethodGet:
		bans, err := h.svc.ListBans(r.Context(), user, chatID)
		if err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		writeJSON(w, h.svc.log, http.StatusOK, BanList{Bans: bans})
	case http.MethodPost:
		var req AddMemberRequest
		if !h.decode(w, r, &req) {
			return
		}
		if _, err := h.svc.BanMember(r.Context(), user, chatID, req.UserID); err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, h.svc.log, "GET, POST")
	}
}

func (h *restHandler) updateSettings(w http.ResponseWriter, r *http.Request, user, chatID string) {
	var req SettingsRequest
	if !h.decode(w, r, &req) {
		return
	}
	m, err := h.svc.UpdateSettings(r.Context(), user, chatID, req)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, m)
}

// serveBlocks serves /blocks and /blocks/{user_id}.
func (h *restHandler) serveBlocks(w http.ResponseWriter, r *http.Request, user string, segs []string) {
	if len(segs) == 2 {
		if r.Method != http.MethodDelete {
			methodNotAllowed(w, h.svc.log, "DELETE")
			return
		}
		if err := h.svc.UnblockUser(r.Context(), user, segs[1]); err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch r.Method {
	case http.MethodGet:
		blocks, err := h.svc.ListBlocks(r.Context(), user)
		if err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		writeJSON(w, h.svc.log, http.StatusOK, BlockList{Blocks: blocks})
	case http.MethodPost:
		var req BlockRequest
		if !h.decode(w, r, &req) {
			return
		}
		if _, err := h.svc.BlockUser(r.Context(), user, req.UserID); err != nil {
			writeServiceError(w, h.svc.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, h.svc.log, "GET, POST")
	}
}
