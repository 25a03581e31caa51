package postgres

import (
	"errors"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/stretchr/testify/assert"

	"github.com/embedchat/chat"
)

// A server at max_connections refuses new sessions with 53300; a session
// may free up, so the call is worth retrying, like a server that is down:
// a resume gets 1013 and a REST call 503, not an internal error.
func TestTooManyClientsIsUnavailable(t *testing.T) {
	err := wrapErr("chat ids of users", &pq.Error{Code: pqerror.TooManyConnections, Message: "sorry, too many clients already"})
	assert.True(t, errors.Is(err, chat.ErrUnavailable), "%v", err)
	err = wrapErr("chat ids of users", &pq.Error{Code: pqerror.UniqueViolation})
	assert.False(t, errors.Is(err, chat.ErrUnavailable), "%v", err)
}
