package postgres

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// requireOrdinals checks what unread counts rely on: every message's
// ordinal is its position among its chat's messages, its sender ordinal
// its position among its sender's messages there, and each chat's message
// count its number of messages.
func requireOrdinals(t testing.TB, s *Store) {
	t.Helper()
	var wrong int
	require.NoError(t, s.db.GetContext(t.Context(), &wrong, s.q.fill(`
		SELECT count(*) FROM (
			SELECT ordinal, sender_ordinal,
				row_number() OVER (PARTITION BY chat_id ORDER BY seq) AS want,
				row_number() OVER (PARTITION BY chat_id, sender ORDER BY seq) AS want_sender
			FROM {schema}.messages
		) n
		WHERE ordinal <> want OR sender_ordinal <> want_sender`)))
	require.Zero(t, wrong, "messages whose ordinals are not their positions")
	require.NoError(t, s.db.GetContext(t.Context(), &wrong, s.q.fill(`
		SELECT count(*) FROM {schema}.chats c
		WHERE message_count <> (SELECT count(*) FROM {schema}.messages m WHERE m.chat_id = c.id)`)))
	require.Zero(t, wrong, "chats whose message_count is not their number of messages")
}

// Sends, edits, deletes and member changes of one chat through two pools,
// mixed with changes that are refused, share one gap-free log, and a reader
// never sees a gap in it.
func TestConcurrentChangesThroughTwoPoolsAreGapFree(t *testing.T) {
	const writers, rounds, guests = 6, 25, 20
	stores := twoStores(t, 4)
	ctx := t.Context()
	members := []string{"admin"}
	for w := range writers {
		members = append(members, fmt.Sprintf("w%d", w))
	}
	_, _, err := stores[0].CreateChat(ctx, testGroup("busy", testNow(), members...), "")
	require.NoError(t, err)

	var created, updated, deleted, added, removed atomic.Int64
	errs := make(chan error, writers+2)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, other := members[w+1], members[(w+1)%writers+1]
			errs <- func() error {
				for i := range rounds {
					m, _, err := stores[w%2].AppendMessage(ctx, chat.Message{ChatID: "busy", Sender: user, Text: fmt.Sprintf("%s %d", user, i), CreatedAt: testNow()})
					if err != nil {
						return err
					}
					created.Add(1)
					s := stores[(w+i)%2]
					_, _, err = s.EditMessage(ctx, chat.MessageEdit{ChatID: "busy", Seq: m.Seq, UserID: other, Text: "not mine", At: testNow()})
					if !errors.Is(err, chat.ErrForbidden) {
						return fmt.Errorf("edit by another member: %v", err)
					}
					ev, changed, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "busy", Seq: m.Seq, UserID: user, Text: m.Text + " edited", At: testNow()})
					if err != nil || !changed || ev.Seq <= m.Seq {
						return fmt.Errorf("edit of seq %d: event %d, changed %v, %v", m.Seq, ev.Seq, changed, err)
					}
					updated.Add(1)
					if i%3 == 0 {
						ev, changed, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "busy", Seq: m.Seq, UserID: user, Delete: true, At: testNow()})
						if err != nil || !changed {
							return fmt.Errorf("delete of seq %d: changed %v, %v", m.Seq, changed, err)
						}
						deleted.Add(1)
						again, changed, err := stores[(w+i+1)%2].EditMessage(ctx, chat.MessageEdit{ChatID: "busy", Seq: m.Seq, UserID: user, Delete: true, At: testNow()})
						if err != nil || changed || again.Seq != 0 {
							return fmt.Errorf("second delete of seq %d: event %d, changed %v, %v", m.Seq, again.Seq, changed, err)
						}
						if _, _, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "busy", Seq: m.Seq, UserID: user, Text: "revived", At: testNow()}); !errors.Is(err, chat.ErrConflict) {
							return fmt.Errorf("edit of deleted seq %d: %v", m.Seq, err)
						}
						if ev.Message == nil || !ev.Message.Deleted {
							return fmt.Errorf("delete of seq %d returned %+v", m.Seq, ev.Message)
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- func() error {
			for i := range guests {
				guest := fmt.Sprintf("guest%d", i)
				s := stores[i%2]
				c := chat.MemberChange{ChatID: "busy", ActorID: "admin", UserID: guest, At: testNow(), MaxMembers: 100}
				if _, changed, err := s.AddMember(ctx, c); err != nil || !changed {
					return fmt.Errorf("add %s: changed %v, %v", guest, changed, err)
				}
				added.Add(1)
				if _, changed, err := stores[(i+1)%2].AddMember(ctx, c); err != nil || changed {
					return fmt.Errorf("add %s again: changed %v, %v", guest, changed, err)
				}
				if _, err := s.RemoveMember(ctx, chat.MemberChange{ChatID: "busy", ActorID: guest, UserID: "w0", At: testNow()}); !errors.Is(err, chat.ErrForbidden) {
					return fmt.Errorf("%s removes w0: %v", guest, err)
				}
				if _, err := s.RemoveMember(ctx, chat.MemberChange{ChatID: "busy", ActorID: guest, UserID: guest, At: testNow()}); err != nil {
					return fmt.Errorf("%s leaves: %v", guest, err)
				}
				removed.Add(1)
				if _, err := s.RemoveMember(ctx, chat.MemberChange{ChatID: "busy", ActorID: "admin", UserID: guest, At: testNow()}); !errors.Is(err, chat.ErrNotFound) {
					return fmt.Errorf("remove %s, gone: %v", guest, err)
				}
			}
			return nil
		}()
	}()
	done := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		readerErr <- func() error {
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads == 0 {
						return errors.New("the log was never read during the writes")
					}
					return nil
				default:
				}
				events, err := stores[1].ListEvents(ctx, "busy", 0, 100000)
				if err != nil {
					return err
				}
				for i, e := range events {
					if e.Seq != int64(i+1) {
						return fmt.Errorf("read %d: event %d has seq %d", reads, i, e.Seq)
					}
				}
			}
		}()
	}()
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, <-readerErr)

	events, err := stores[0].ListEvents(ctx, "busy", 0, 100000)
	require.NoError(t, err)
	total := created.Load() + updated.Load() + deleted.Load() + added.Load() + removed.Load()
	require.Len(t, events, int(total), "events")
	byType := map[chat.EventType]int64{}
	for i, e := range events {
		require.Equal(t, int64(i+1), e.Seq, "seq of event %d", i)
		byType[e.Type]++
	}
	require.Equal(t, map[chat.EventType]int64{
		chat.EventMessageCreated: created.Load(),
		chat.EventMessageUpdated: updated.Load(),
		chat.EventMessageDeleted: deleted.Load(),
		chat.EventMemberAdded:    added.Load(),
		chat.EventMemberRemoved:  removed.Load(),
	}, byType)
	require.Equal(t, map[string]int64{"busy": total}, mustLastSeqs(t, stores[1], "busy"))
	requireOrdinals(t, stores[0])
	c, err := stores[1].GetChat(ctx, "busy")
	require.NoError(t, err)
	require.Len(t, c.Members, len(members), "members once every guest has left")
}

func mustLastSeqs(t *testing.T, s *Store, ids ...string) map[string]int64 {
	t.Helper()
	seqs, err := s.LastSeqs(t.Context(), ids)
	require.NoError(t, err)
	return seqs
}

// MarkRead from many connections of two pools, while messages arrive: no
// caller or observer ever sees the marker go back, no two calls report
// moving it to the same place, and it ends at the highest place reported.
func TestConcurrentMarkReadThroughTwoPoolsNeverMovesBack(t *testing.T) {
	const readers, calls, sends = 6, 60, 150
	stores := twoStores(t, 4)
	ctx := t.Context()
	_, _, err := stores[0].CreateChat(ctx, testGroup("g", testNow(), "alice", "bob"), "")
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range sends {
			if _, _, err := stores[0].AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "bob", Text: "hi", CreatedAt: testNow()}); err != nil {
				errs <- err
				return
			}
		}
	}()
	moves := make([][]int64, readers)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[r%2]
			errs <- func() error {
				var prev int64
				for range calls {
					seqs, err := s.LastSeqs(ctx, []string{"g"})
					if err != nil {
						return err
					}
					last := seqs["g"]
					asked := rand.Int64N(last+6) - 2
					read, moved, err := s.MarkRead(ctx, "g", "alice", asked)
					if err != nil {
						return err
					}
					switch {
					case read < prev:
						return fmt.Errorf("marker went back from %d to %d", prev, read)
					case read < min(asked, last):
						return fmt.Errorf("MarkRead %d with LastSeq %d before the call left the marker at %d", asked, last, read)
					case moved && read > asked:
						return fmt.Errorf("MarkRead %d moved the marker past it, to %d", asked, read)
					}
					if moved {
						moves[r] = append(moves[r], read)
					}
					prev = read
				}
				return nil
			}()
		}()
	}
	done := make(chan struct{})
	watcherErr := make(chan error, 1)
	go func() {
		watcherErr <- func() error {
			var prev int64
			for {
				select {
				case <-done:
					return nil
				default:
				}
				m, err := stores[1].GetMember(ctx, "g", "alice")
				if err != nil {
					return err
				}
				if m.LastReadSeq < prev {
					return fmt.Errorf("GetMember saw the marker go back from %d to %d", prev, m.LastReadSeq)
				}
				prev = m.LastReadSeq
			}
		}()
	}()
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, <-watcherErr)

	all := slices.Concat(moves...)
	require.NotEmpty(t, all, "no MarkRead moved the marker")
	slices.Sort(all)
	require.Equal(t, slices.Compact(slices.Clone(all)), all, "two MarkRead calls reported moving the marker to the same seq")
	m, err := stores[0].GetMember(ctx, "g", "alice")
	require.NoError(t, err)
	require.Equal(t, all[len(all)-1], m.LastReadSeq, "the marker ends where the last move put it")
}

// While members send, edit, delete, read and come and go through two
// pools, the unread counts, read in one snapshot with a brute-force count
// of the same, always agree with it.
func TestUnreadCountsEqualRecountUnderConcurrentWriters(t *testing.T) {
	const rounds = 40
	stores := twoStores(t, 4)
	ctx := t.Context()
	users := []string{"alice", "bob", "carol", "dave"}
	chats := []string{"g0", "g1", "g2", "g3"}
	for i, id := range chats {
		// Each chat has a different creator, who may remove the guest.
		members := append(slices.Clone(users[i:]), users[:i]...)
		_, _, err := stores[i%2].CreateChat(ctx, testGroup(id, testNow(), members...), "")
		require.NoError(t, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(users)+1)
	for u, user := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[u%2]
			errs <- func() error {
				var mine []chat.Message
				for i := range rounds {
					id := chats[(u+i)%len(chats)]
					m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: id, Sender: user, Text: "hi", CreatedAt: testNow()})
					if err != nil {
						return err
					}
					mine = append(mine, m)
					if i%3 == 0 {
						if _, _, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: m.ChatID, Seq: m.Seq, UserID: user, Text: "edited", At: testNow()}); err != nil {
							return err
						}
					}
					if i%4 == 3 {
						old := mine[rand.IntN(len(mine))]
						if _, _, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: old.ChatID, Seq: old.Seq, UserID: user, Delete: true, At: testNow()}); err != nil {
							return err
						}
					}
					if i%2 == 1 {
						read := chats[(u+i+1)%len(chats)]
						seqs, err := s.LastSeqs(ctx, []string{read})
						if err != nil {
							return err
						}
						if _, _, err := s.MarkRead(ctx, read, user, seqs[read]-rand.Int64N(6)); err != nil {
							return err
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- func() error {
			for i := range rounds / 2 {
				id, s := chats[i%len(chats)], stores[i%2]
				if _, _, err := s.AddMember(ctx, chat.MemberChange{ChatID: id, ActorID: "bob", UserID: "erin", At: testNow(), MaxMembers: 10}); err != nil {
					return err
				}
				if _, _, err := s.AppendMessage(ctx, chat.Message{ChatID: id, Sender: "erin", Text: "hello", CreatedAt: testNow()}); err != nil {
					return err
				}
				if _, _, err := s.MarkRead(ctx, id, "erin", 1<<40); err != nil {
					return err
				}
				if i%2 == 0 {
					if _, err := s.RemoveMember(ctx, chat.MemberChange{ChatID: id, ActorID: "erin", UserID: "erin", At: testNow()}); err != nil {
						return err
					}
				}
			}
			return nil
		}()
	}()

	everyone := append(slices.Clone(users), "erin")
	writing := make(chan struct{})
	go func() {
		wg.Wait()
		close(writing)
	}()
	checks := 0
	for stop := false; !stop; checks++ {
		select {
		case <-writing:
			stop = true // One more check once every write is in.
		default:
		}
		for _, user := range everyone {
			counts, recount := snapshotCounts(t, stores[1].db, stores[1], user, chats)
			require.Equal(t, recount, counts, "unread counts of %s in one snapshot, check %d", user, checks)
		}
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d checks during and after the writes", checks)
	requireOrdinals(t, stores[0])
	for _, user := range everyone {
		_, recount := snapshotCounts(t, stores[1].db, stores[1], user, chats)
		counts, err := stores[0].UnreadCounts(ctx, user, chats)
		require.NoError(t, err)
		require.Equal(t, recount, counts, "UnreadCounts of %s at the end", user)
	}
}

// snapshotCounts runs the Store's unread count query and a count of the
// same messages one by one in one REPEATABLE READ transaction, so that both
// see the same state however writers go on.
func snapshotCounts(t *testing.T, db *sqlx.DB, s *Store, user string, chatIDs []string) (counts, recount map[string]int64) {
	t.Helper()
	ctx := t.Context()
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	read := func(query string) map[string]int64 {
		var rows []struct {
			ChatID string `db:"chat_id"`
			N      int64  `db:"n"`
		}
		require.NoError(t, tx.SelectContext(ctx, &rows, query, user, pq.Array(chatIDs)))
		m := make(map[string]int64, len(rows))
		for _, r := range rows {
			m[r.ChatID] = r.N
		}
		return m
	}
	counts = read(`SELECT chat_id, unread AS n FROM (` + s.q.unreadCounts + `) u`)
	recount = read(s.q.fill(`
		SELECT um.chat_id, count(m.seq) AS n
		FROM {schema}.members um
		LEFT JOIN {schema}.messages m ON m.chat_id = um.chat_id AND m.seq > um.last_read_seq
			AND m.sender <> um.user_id AND NOT m.deleted
		WHERE um.user_id = $1 AND um.chat_id = ANY ($2::text[])
		GROUP BY um.chat_id`))
	return counts, recount
}
