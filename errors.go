package chat

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by the Service and by Store and Broker
// implementations. Match them with errors.Is; the HTTP handlers map each to
// one status code and error code (see docs/protocol.md).
var (
	// ErrNotFound means the chat or message does not exist or is not
	// visible to the caller. Non-members get it for existing chats too, so
	// that existence is not revealed.
	ErrNotFound = errors.New("chat: not found")
	// ErrInvalid means the request is malformed or breaks a limit.
	ErrInvalid = errors.New("chat: invalid request")
	// ErrUnauthenticated means no user identity came with the request.
	ErrUnauthenticated = errors.New("chat: unauthenticated")
	// ErrForbidden means the caller may see the chat but not do this.
	ErrForbidden = errors.New("chat: forbidden")
	// ErrConflict means the request conflicts with the current state.
	ErrConflict = errors.New("chat: conflict")
	// ErrTooLarge means a request body is over the configured limit.
	ErrTooLarge = errors.New("chat: payload too large")
	// ErrUnavailable means a backend could not be reached; the call may
	// succeed if retried later. Store implementations wrap it around
	// connection failures.
	ErrUnavailable = errors.New("chat: backend unavailable")
	// ErrClosed means the Service, or the Subscription, has been shut down.
	ErrClosed = errors.New("chat: closed")
	// ErrSlowConsumer means a subscription was closed because its reader
	// fell further behind than its queue allows.
	ErrSlowConsumer = errors.New("chat: slow consumer")
	// ErrNotImplemented means the server lacks what a call needs: the
	// configured Store or Broker lacks the optional ability (such as
	// MessageSearcher for search, AttachmentStore for attachments), or a
	// store the feature needs is not configured (Config.Blobs).
	ErrNotImplemented = errors.New("chat: not implemented")
	// ErrUnsupportedMediaType means an upload's content, as the server
	// sniffed it, is of a type the server does not accept.
	ErrUnsupportedMediaType = errors.New("chat: unsupported media type")
)

// requestError carries a message meant for the client next to the sentinel
// it wraps, so that the HTTP layer can show "text is empty" instead of only
// "invalid request".
type requestError struct {
	kind error
	msg  string
}

func (e *requestError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *requestError) Unwrap() error { return e.kind }

func invalidf(format string, args ...any) error {
	return &requestError{kind: ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

func tooLargef(format string, args ...any) error {
	return &requestError{kind: ErrTooLarge, msg: fmt.Sprintf(format, args...)}
}

// clientMessage returns the part of err that may be shown to a client, or
// "" when err carries no such message.
func clientMessage(err error) string {
	var re *requestError
	if errors.As(err, &re) {
		return re.msg
	}
	return ""
}

func forbiddenf(format string, args ...any) error {
	return &requestError{kind: ErrForbidden, msg: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) error {
	return &requestError{kind: ErrConflict, msg: fmt.Sprintf(format, args...)}
}
