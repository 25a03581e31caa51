// The React binding of the README, type-checked in CI (npm run typecheck).
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { ChatClient, ChatStore, chatTitle, describeError, type ChatStoreState } from '@embedchat/client';

// One store per signed-in user, for the life of the page.
export function useChatStore(userId: string): ChatStore {
  const store = useMemo(() => new ChatStore(new ChatClient({ baseUrl: '/chat', userId })), [userId]);
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  return store;
}

// The whole state, re-rendering when (and only when) it changes.
export function useChatState(store: ChatStore): ChatStoreState {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}

export function Chats({ store }: { store: ChatStore }) {
  const state = useChatState(store);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div>
      <p>{state.connection.state === 'connected' ? 'Live' : 'Reconnecting…'}</p>
      <ul>
        {state.chats.map((c) => (
          <li key={c.id}>
            <button onClick={() => setOpen(c.id)}>
              {chatTitle(c, state.userId)} {c.unread_count > 0 && <b>{c.unread_count}</b>}
            </button>
          </li>
        ))}
      </ul>
      {open && <Room store={store} chatId={open} />}
    </div>
  );
}

export function Room({ store, chatId }: { store: ChatStore; chatId: string }) {
  const room = useChatState(store).rooms[chatId];
  const [text, setText] = useState('');
  useEffect(() => {
    void store.openChat(chatId);
    return () => store.closeChat(chatId);
  }, [store, chatId]);
  useEffect(() => {
    void store.markRead(chatId);
  }, [store, chatId, room?.messages]);
  if (!room || room.loading) return <p>Loading…</p>;
  return (
    <section>
      {room.messages.length === 0 && <p>No messages yet.</p>}
      {room.messages.map((m) => (
        <p key={m.seq}>
          <b>{m.sender}</b> {m.deleted ? <i>deleted</i> : m.text}
        </p>
      ))}
      {room.pending.map((p) => (
        <p key={p.client_id}>
          {p.text}{' '}
          {p.status === 'failed' ? (
            <>
              {describeError(p.error)} <button onClick={() => store.retry(chatId, p.client_id)}>Retry</button>
            </>
          ) : (
            '…'
          )}
        </p>
      ))}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          store.send(chatId, text);
          setText('');
        }}
      >
        <input
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            store.typingIn(chatId);
          }}
        />
      </form>
    </section>
  );
}
