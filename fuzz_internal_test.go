package chat

import (
	"errors"
	"testing"

	"github.com/coder/websocket"
)

// FuzzParseFrame decodes any client frame: it is refused as invalid, or
// it is a resume with positions or a typing with a chat id.
func FuzzParseFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		}
		fr, err := parseFrame(typ, data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || clientMessage(err) == "" {
				t.Fatalf("frame %q: %v, want ErrInvalid with a message for the client", data, err)
			}
			return
		}
		switch fr.Type {
		case "resume":
			if fr.Positions == nil {
				t.Fatalf("resume frame %q without positions", data)
			}
		case "typing":
			if fr.ChatID == "" {
				t.Fatalf("typing frame %q without a chat id", data)
			}
		default:
			t.Fatalf("frame %q accepted with type %q", data, fr.Type)
		}
	})
}

// FuzzChatCursor decodes any chat list cursor: it is refused as invalid,
// or it names a position that encodes back to a cursor naming the same.
func FuzzChatCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, cursor string) {
		pos, err := decodeChatCursor(cursor)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("cursor %q: %v, want ErrInvalid", cursor, err)
			}
			return
		}
		again, err := decodeChatCursor(encodeChatCursor(pos))
		if err != nil {
			t.Fatalf("cursor %q decodes to %+v, whose cursor does not decode: %v", cursor, pos, err)
		}
		if !again.LastActivityAt.Equal(pos.LastActivityAt) || again.ChatID != pos.ChatID {
			t.Fatalf("cursor %q: %+v, then %+v", cursor, pos, again)
		}
	})
}
