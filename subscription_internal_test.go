package chat

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A chat left while a resync of it waited, then joined again, gets a new
// resync when its held events overflow once more: the old one left pending
// with the chat and must not stand in for it.
func TestResyncOfALeftChatIsNotReused(t *testing.T) {
	const chatID = "c1"
	sub := &Subscription{
		following: map[string]bool{chatID: true},
		holding:   map[string]bool{chatID: true},
		pos:       map[string]int64{},
		cut:       map[string]int64{},
	}
	sub.resyncLaterLocked(&delivery{Event: Event{Type: EventMessageCreated, ChatID: chatID, Seq: 5}})
	require.Len(t, sub.pending, 1)

	sub.leaveLocked(chatID, 6)
	require.Empty(t, sub.pending, "the resync of a chat left goes with it")

	// Joined again (as join does), and the replay's held events overflow.
	sub.following[chatID] = true
	sub.holding[chatID] = true
	delete(sub.cut, chatID)
	sub.resyncLaterLocked(&delivery{Event: Event{Type: EventMessageCreated, ChatID: chatID, Seq: 10}})
	require.Len(t, sub.pending, 1, "a resync waits for the reader again")
	require.Equal(t, EventResync, sub.pending[0].Type)
	require.Equal(t, int64(10), sub.pending[0].resyncUpTo)
}
