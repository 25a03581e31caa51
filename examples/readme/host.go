package readme

import (
	"context"
	"net/http"

	"github.com/embedchat/chat"
)

// The host app's own code that the README's snippets call, reduced to
// what makes them compile.

type hostSessions struct{}

// UserID is the host's session lookup.
func (hostSessions) UserID(*http.Request) string { return "" }

type hostPush struct{}

// Notify is the host's push notification sender.
func (hostPush) Notify(context.Context, chat.Message) {}

type hostFriends struct{}

// All is the host's friendship check.
func (hostFriends) All(context.Context, string, []string) bool { return true }

type hostUsers struct{}

// LookupUsers is the host's user table.
func (hostUsers) LookupUsers(context.Context, []string) (map[string]chat.User, error) {
	return map[string]chat.User{}, nil
}

var (
	sessions  hostSessions
	push      hostPush
	friends   hostFriends
	userTable chat.UserDirectory = hostUsers{}
)
