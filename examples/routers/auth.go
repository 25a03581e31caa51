package routers

import (
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
)

// The host's own authentication, shared by the recipes: a session store
// for cookie logins, and a token table. Real apps have their own.

// sessions maps session cookies to users.
type sessions struct {
	mu    sync.Mutex
	users map[string]string
}

func newSessions() *sessions { return &sessions{users: map[string]string{}} }

// login starts a session for the form's user and sets its cookie.
func (s *sessions) login(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("user")
	if user == "" {
		http.Error(w, "who are you?", http.StatusBadRequest)
		return
	}
	token := rand.Text()
	s.mu.Lock()
	s.users[token] = user
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}

// user returns the user of r's session cookie, or "".
func (s *sessions) user(r *http.Request) string {
	c, err := r.Cookie("session")
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[c.Value]
}

// tokenOf is the bearer token of a test user.
func tokenOf(user string) string { return "token-of-" + user }

// tokenUser returns the user of r's bearer token, or "".
func tokenUser(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	user, _ := strings.CutPrefix(tok, "token-of-")
	return user
}
