package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// BenchmarkDirectSendBlockCheck measures what the block check costs a send
// into a direct chat: one sender, one connection, AppendMessage alone (the
// floor) and preceded by DirectBlocking, as the Service does when the Store
// is a chat.BlockStore.
func BenchmarkDirectSendBlockCheck(b *testing.B) {
	for _, check := range []bool{false, true} {
		name := "append"
		if check {
			name = "blocking+append"
		}
		b.Run(name, func(b *testing.B) {
			db := openTestDB(b, 1)
			s := newTestStore(b, db)
			c := chat.Chat{ID: "d1", Kind: chat.KindDirect, CreatedBy: "u0", CreatedAt: testNow(),
				Members: []chat.Member{{UserID: "u0"}, {UserID: "u1"}}}
			_, _, err := s.CreateChat(b.Context(), c, "u0\x00u1")
			require.NoError(b, err)
			b.ResetTimer()
			for range b.N {
				if check {
					_, blocks, blockedBy, err := s.DirectBlocking(b.Context(), "d1", "u0")
					require.NoError(b, err)
					require.False(b, blocks || blockedBy)
				}
				_, _, err := s.AppendMessage(b.Context(), chat.Message{ChatID: "d1", Sender: "u0", Text: "hello", CreatedAt: testNow()})
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
	}
}
