package chat_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

func TestStatsCountsConnectionsUsersAndStreams(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	srv := chattest.NewServer(t, svc)
	require.Equal(t, chat.Stats{UserSubscriptions: map[string]int{}}, svc.Stats())

	var c chat.Chat
	srv.Do("alice", "POST", "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}}).Decode(t, &c)
	alice, _ := srv.Connect("alice", nil)
	bob1, _ := srv.Connect("bob", nil)
	bob2, _ := srv.Connect("bob", nil)

	st := svc.Stats()
	require.Equal(t, 3, st.Connections)
	require.Equal(t, 3, st.Subscriptions)
	require.Equal(t, map[string]int{"alice": 1, "bob": 2}, st.UserSubscriptions)
	require.Equal(t, 1, st.Streams)
	require.Equal(t, 3, st.BrokerTopics, "two user topics and one chat topic")
	require.False(t, st.Draining)

	bob1.Close()
	bob2.Close()
	require.Eventually(t, func() bool {
		st := svc.Stats()
		return st.Connections == 1 && st.Subscriptions == 1
	}, chattest.Timeout, time.Millisecond)
	require.Equal(t, map[string]int{"alice": 1}, svc.Stats().UserSubscriptions)
	alice.Close()
}
