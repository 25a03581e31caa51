package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/embedchat/chat"
)

// wrapErr adds the operation to err and, when err means that the database
// could not be reached, chat.ErrUnavailable, which callers may retry.
func wrapErr(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, chat.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// notFound is the error for a chat or member that does not exist.
func notFound(op, format string, args ...any) error {
	return fmt.Errorf("postgres: %s: %s: %w", op, fmt.Sprintf(format, args...), chat.ErrNotFound)
}

// unavailable reports whether err says that the database, or the connection
// to it, is gone rather than that the statement was wrong: the same call
// may succeed once the server is back.
func unavailable(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, ErrClosed),
		// The caller's deadline passed while waiting for a connection from
		// the pool or for a server that does not answer.
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if pqErr := pq.As(err); pqErr != nil {
		switch pqErr.Code {
		case pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow,
			// The server is at max_connections: a session may free up.
			pqerror.TooManyConnections:
			return true
		}
		return pqErr.Code.Class() == pqerror.ClassConnectionException
	}
	// Some dial failures reach us flattened into text.
	return strings.Contains(err.Error(), "connection refused")
}

// isClientIDViolation reports whether err is a unique violation of the
// index that keeps client ids unique per chat and sender.
func isClientIDViolation(err error) bool {
	pqErr := pq.As(err, pqerror.UniqueViolation)
	return pqErr != nil && pqErr.Constraint == "messages_client_id_idx"
}
