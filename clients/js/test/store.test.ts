import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { ChatStore, chatTitle, seenBy } from '../src/store.js';
import { MemoryStorage } from '../src/storage.js';
import { FakeServer } from './fake-server.js';
import { eventually, testClient } from './helpers.js';

let server: FakeServer;
const stops: Array<() => void> = [];

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  for (const s of stops.splice(0)) s();
  await server.close();
});

async function live(user: string, storage = new MemoryStorage()) {
  const { client } = testClient(server, user, { storage });
  const store = new ChatStore(client, { typingTimeout: 60000 });
  let notified = 0;
  store.subscribe(() => notified++);
  store.start();
  stops.push(() => store.stop());
  await eventually(() => store.getSnapshot().connection.state === 'connected' && store.getSnapshot().chatsLoaded);
  return { store, client, notifications: () => notified };
}

const snap = (store: ChatStore) => store.getSnapshot();

test('snapshots keep their identity until something changes', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { store, notifications } = await live('alice');
  const a = snap(store);
  assert.equal(snap(store), a, 'the same object while nothing changes');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.chats));
  const before = notifications();
  await store.refreshChats();
  assert.equal(snap(store), a, 'a refresh that brings nothing new keeps the snapshot');

  server.post(chat.id, 'bob', 'hi');
  await eventually(() => snap(store) !== a);
  assert.ok(notifications() > before);
  assert.equal(snap(store).chats[0]!.last_message?.text, 'hi');
  assert.notEqual(snap(store).chats[0], a.chats[0]);
});

test('the chat list keeps unread counts and last messages, newest activity first', async () => {
  const older = server.createChat('alice', ['carol'], 'direct');
  const chat = server.createChat('alice', ['bob'], 'group', 'Team');
  const { store } = await live('alice');
  server.post(older.id, 'carol', 'old news');
  server.post(chat.id, 'bob', 'one');
  server.post(chat.id, 'alice', 'mine does not count');
  const two = server.post(chat.id, 'bob', 'two');
  await eventually(() => snap(store).chats.find((c) => c.id === chat.id)?.last_seq === 3);
  let c = snap(store).chats[0]!;
  assert.equal(c.id, chat.id);
  assert.equal(c.unread_count, 2);
  assert.equal(c.last_message?.text, 'two');
  assert.equal(chatTitle(c, 'alice'), 'Team');
  assert.equal(chatTitle(snap(store).chats[1]!, 'alice'), 'carol');

  server.remove(chat.id, two.seq);
  await eventually(() => snap(store).chats[0]!.last_seq === 4);
  c = snap(store).chats[0]!;
  assert.equal(c.unread_count, 1, 'a deleted unread message is no longer unread');
  assert.equal(c.last_message?.deleted, true);
  await store.refreshChats();
  assert.equal(snap(store).chats[0]!.unread_count, 1, 'the server agrees');
});

test('an open chat holds its messages with edits and deletes applied', async () => {
  const chat = server.createChat('alice', ['bob']);
  const m1 = server.post(chat.id, 'bob', 'first');
  const m2 = server.post(chat.id, 'bob', 'second');
  const { store } = await live('alice');
  await store.openChat(chat.id);
  let room = snap(store).rooms[chat.id]!;
  assert.equal(room.loading, false);
  assert.deepEqual(room.messages.map((m) => m.text), ['first', 'second']);

  server.edit(chat.id, m1.seq, 'first, edited');
  server.remove(chat.id, m2.seq);
  server.post(chat.id, 'bob', 'third');
  await eventually(() => snap(store).rooms[chat.id]!.messages.length === 3);
  room = snap(store).rooms[chat.id]!;
  assert.deepEqual(
    room.messages.map((m) => [m.seq, m.text, m.deleted, m.edited_at !== undefined]),
    [
      [1, 'first, edited', false, true],
      [2, '', true, false],
      [5, 'third', false, false],
    ],
  );
  const before = snap(store).rooms[chat.id]!.messages[0];
  await store.editMessage(chat.id, m1.seq, 'edited again');
  assert.notEqual(snap(store).rooms[chat.id]!.messages[0], before);
  assert.equal(snap(store).rooms[chat.id]!.messages[0]!.text, 'edited again');
});

test('sends are pending, then sent; failures can be retried with the same client_id', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { store } = await live('alice');
  await store.openChat(chat.id);

  let gate!: () => void;
  const held = new Promise<void>((r) => (gate = r));
  server.intercept = async (r) => {
    if (r.method === 'POST' && r.path.endsWith('/messages')) await held;
    return undefined;
  };
  const id1 = store.send(chat.id, 'hello');
  let room = snap(store).rooms[chat.id]!;
  assert.deepEqual(room.pending.map((p) => [p.client_id, p.text, p.status]), [[id1, 'hello', 'pending']]);
  gate();
  await eventually(() => snap(store).rooms[chat.id]!.pending.length === 0);
  room = snap(store).rooms[chat.id]!;
  assert.deepEqual(room.messages.map((m) => [m.text, m.client_id]), [['hello', id1]]);

  server.intercept = (r) => (r.method === 'POST' && r.path.endsWith('/messages') ? { status: 0 } : undefined);
  const id2 = store.send(chat.id, 'lost in the network');
  await eventually(() => snap(store).rooms[chat.id]!.pending[0]?.status === 'failed');
  const failed = snap(store).rooms[chat.id]!.pending[0]!;
  assert.equal(failed.error?.code, 'network');
  const tries = server.requests.filter((r) => r.body?.client_id === id2).length;
  assert.equal(tries, 4, 'the first try and three retries');

  server.intercept = null;
  store.retry(chat.id, id2);
  assert.equal(snap(store).rooms[chat.id]!.pending[0]!.status, 'pending');
  await eventually(() => snap(store).rooms[chat.id]!.pending.length === 0);
  assert.deepEqual(
    snap(store).rooms[chat.id]!.messages.map((m) => m.text),
    ['hello', 'lost in the network'],
  );
  assert.equal(server.requests.filter((r) => r.body?.client_id === id2).length, tries + 1);

  server.intercept = (r) =>
    r.method === 'POST' && r.path.endsWith('/messages')
      ? { status: 400, body: { error: { code: 'invalid_request', message: 'text is too long' } } }
      : undefined;
  const id3 = store.send(chat.id, 'x');
  await eventually(() => snap(store).rooms[chat.id]!.pending[0]?.status === 'failed');
  assert.equal(server.requests.filter((r) => r.body?.client_id === id3).length, 1, 'a 400 is not retried');
  store.discard(chat.id, id3);
  assert.equal(snap(store).rooms[chat.id]!.pending.length, 0);
});

test('read receipts follow read events, and markRead clears the unread count', async () => {
  const chat = server.createChat('alice', ['bob']);
  server.post(chat.id, 'alice', 'question');
  const answer = server.post(chat.id, 'bob', 'answer');
  const { store } = await live('alice');
  await store.openChat(chat.id);
  assert.equal(snap(store).chats[0]!.unread_count, 1);

  server.markRead(chat.id, 'bob', 1);
  await eventually(() => snap(store).chats[0]!.members.find((m) => m.user_id === 'bob')!.last_read_seq === 1);
  const c = snap(store).chats[0]!;
  assert.deepEqual([...seenBy(c, snap(store).rooms[chat.id]!.messages, 'alice')], [[1, ['bob']]]);

  await store.markRead(chat.id);
  const read = server.requests.filter((r) => r.path.endsWith('/read'));
  assert.deepEqual(read.map((r) => r.body), [{ seq: answer.seq }]);
  assert.equal(snap(store).chats[0]!.unread_count, 0);
  await store.markRead(chat.id);
  assert.equal(server.requests.filter((r) => r.path.endsWith('/read')).length, 1, 'nothing left to mark');
});

test('markRead does not repeat a mark the server answers with a lower marker', async () => {
  const chat = server.createChat('alice', ['bob']);
  server.post(chat.id, 'bob', 'one');
  server.post(chat.id, 'bob', 'two');
  const { store } = await live('alice');
  await store.openChat(chat.id);
  // A server that lost history clamps the marker below what the store holds.
  server.intercept = (r) =>
    r.path.endsWith('/read') ? { status: 200, body: { chat_id: chat.id, user_id: 'alice', read_seq: 1 } } : undefined;
  await store.markRead(chat.id);
  assert.equal(server.requests.filter((r) => r.path.endsWith('/read')).length, 1);
});

test('typing shows other members until their message arrives', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { store } = await live('alice');
  await store.openChat(chat.id);
  const sock = await server.socket(1);
  sock.send({ type: 'typing', chat_id: chat.id, user_id: 'bob' });
  await eventually(() => snap(store).rooms[chat.id]!.typing.length === 1);
  assert.deepEqual(snap(store).rooms[chat.id]!.typing, ['bob']);
  server.post(chat.id, 'bob', 'done typing');
  await eventually(() => snap(store).rooms[chat.id]!.typing.length === 0);
});

test('events of a chat the store does not know fetch it', async () => {
  const { store } = await live('alice');
  const chat = server.createChat('bob', ['alice']);
  await eventually(() => snap(store).chats.length === 1);
  server.post(chat.id, 'bob', 'hello alice');
  await eventually(() => snap(store).chats[0]!.unread_count === 1);
  assert.equal(snap(store).chats[0]!.last_message?.text, 'hello alice');
});

test('a server that lost everything is reported after the reconnect', async () => {
  const chat = server.createChat('alice', ['bob']);
  server.post(chat.id, 'bob', 'before the restart');
  const storage = new MemoryStorage();
  const first = await live('alice', storage);
  await first.store.openChat(chat.id);
  assert.equal(snap(first.store).lost, null);

  // An in-memory server restarts: it drops the connection and knows nothing.
  server.forgetEverything();
  (await server.socket(1)).close(1001);
  await server.socket(2);
  await eventually(() => snap(first.store).lost !== null);
  const s = snap(first.store);
  assert.equal(s.lost!.serverReset, true);
  assert.deepEqual(s.lost!.chats.map((c) => c.id), [chat.id]);
  assert.equal(s.chats.length, 0);
  assert.equal(s.rooms[chat.id], undefined);
  assert.deepEqual(first.client.getPositions(), {});
  first.store.dismissLost();
  assert.equal(snap(first.store).lost, null);
});

test('positions survive a reload: the store resumes rather than missing events', async () => {
  const chat = server.createChat('alice', ['bob']);
  const storage = new MemoryStorage();
  const first = await live('alice', storage);
  server.post(chat.id, 'bob', 'one');
  await eventually(() => first.client.position(chat.id) === 1);
  first.store.stop();
  await eventually(() => storage.getItem('embedchat:positions:alice') !== null);

  server.post(chat.id, 'bob', 'two');
  // The chat list waits until the socket has resumed, so that the resume
  // shows the stored position rather than one the list moved forward.
  server.intercept = async (r) => {
    if (r.path.startsWith('/chats?')) await server.socket(2);
    return undefined;
  };
  const second = await live('alice', storage);
  assert.deepEqual(server.sockets[1]!.resume, { [chat.id]: 1 });
  await eventually(() => snap(second.store).chats[0]?.last_seq === 2);
  assert.equal(snap(second.store).chats[0]!.unread_count, 2);
});

test('resync refetches the chat and reloads its open room', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { store } = await live('alice');
  await store.openChat(chat.id);
  for (let i = 0; i < 3; i++) server.post(chat.id, 'bob', 'm' + i);
  await eventually(() => snap(store).rooms[chat.id]!.messages.length === 3);
  // The server drops the socket; it comes back with too much to replay.
  server.replayLimit = 1;
  (await server.socket(1)).close(1006);
  server.post(chat.id, 'bob', 'while away 1');
  server.post(chat.id, 'bob', 'while away 2');
  await server.socket(2);
  await eventually(() => snap(store).rooms[chat.id]?.messages.length === 5 && !snap(store).rooms[chat.id]!.loading);
  assert.deepEqual(
    snap(store).rooms[chat.id]!.messages.map((m) => m.seq),
    [1, 2, 3, 4, 5],
  );
  assert.equal(snap(store).chats[0]!.last_seq, 5);
  assert.equal(snap(store).lost, null);
});

test('being removed drops the chat', async () => {
  const chat = server.createChat('bob', ['alice']);
  const { store } = await live('alice');
  await store.openChat(chat.id);
  server.removeMember(chat.id, 'alice');
  await eventually(() => snap(store).chats.length === 0);
  assert.equal(snap(store).rooms[chat.id], undefined);
});

test('presence is read when a chat opens and follows presence events', async () => {
  const chat = server.createChat('alice', ['bob']);
  const seen = '2026-12-01T19:00:00Z';
  server.intercept = (r) =>
    r.path.startsWith(`/chats/${chat.id}/presence`)
      ? { status: 200, body: { presence: [{ user_id: 'bob', online: false, last_seen_at: seen }], has_more: false } }
      : undefined;
  const { store } = await live('alice');
  await store.openChat(chat.id);
  await eventually(() => snap(store).presence['bob'] !== undefined);
  assert.deepEqual(snap(store).presence['bob'], { user_id: 'bob', online: false, last_seen_at: seen });
  const before = snap(store);
  const sock = await server.socket(1);
  const now = '2026-12-01T19:05:00Z';
  sock.send({ type: 'presence', chat_id: chat.id, user_id: 'bob', presence: { user_id: 'bob', online: true, last_seen_at: now } });
  await eventually(() => snap(store).presence['bob']?.online === true);
  assert.notEqual(snap(store), before);
  assert.ok(Object.isFrozen(snap(store).presence));
});

test('a server without presence is asked once', async () => {
  const a = server.createChat('alice', ['bob']);
  const b = server.createChat('alice', ['carol']);
  server.intercept = (r) =>
    r.path.includes('/presence')
      ? { status: 501, body: { error: { code: 'not_implemented', message: 'presence is turned off' } } }
      : undefined;
  const { store } = await live('alice');
  await store.openChat(a.id);
  await eventually(() => server.requests.some((r) => r.path.includes('/presence')));
  await store.loadPresence(a.id);
  await store.openChat(b.id);
  await store.loadPresence(b.id);
  assert.equal(server.requests.filter((r) => r.path.includes('/presence')).length, 1);
  assert.deepEqual(snap(store).presence, {});
});

test('roles, renames and the users own settings apply to the chat list, pinned chats first', async () => {
  const pinned = server.createChat('alice', ['bob'], 'group', 'Older');
  const chat = server.createChat('alice', ['bob'], 'group', 'Team');
  const { store } = await live('bob');
  assert.deepEqual(snap(store).chats.map((c) => c.id), [chat.id, pinned.id], 'by activity');

  server.setRole(chat.id, 'alice', 'bob', 'admin');
  server.rename(chat.id, 'bob', 'Renamed');
  await eventually(() => snap(store).chats[0]!.title === 'Renamed');
  const c = snap(store).chats[0]!;
  assert.equal(c.members.find((m) => m.user_id === 'bob')?.role, 'admin');
  assert.equal(c.last_seq, 2);

  server.settings(pinned.id, 'bob', { muted: false, archived: false, pinned: true });
  await eventually(() => snap(store).chats[0]!.id === pinned.id);
  assert.equal(snap(store).chats[0]!.settings?.pinned, true);
  assert.equal(snap(store).chats[0]!.last_seq, 1, 'a settings event takes a seq');

  // Another member's settings reach bob as a seq alone: his position moves, his settings do not.
  server.settings(pinned.id, 'alice', { muted: true, archived: true, pinned: false });
  await eventually(() => snap(store).chats[0]!.last_seq === 2);
  assert.deepEqual(snap(store).chats[0]!.settings, { muted: false, archived: false, pinned: true });
  assert.equal(snap(store).chats[0]!.id, pinned.id);
});

test('reactions, replies and mentions follow the events', async () => {
  const chat = server.createChat('alice', ['bob', 'carol']);
  const m1 = server.post(chat.id, 'alice', 'ship it?');
  const { store, client } = await live('alice');
  await store.openChat(chat.id);
  const msg = (seq: number) => snap(store).rooms[chat.id]!.messages.find((m) => m.seq === seq)!;

  server.react(chat.id, m1.seq, 'bob', '👍');
  await eventually(() => msg(m1.seq).reactions?.[0]?.count === 1);
  assert.deepEqual(msg(m1.seq).reactions, [{ emoji: '👍', count: 1, me: false }]);
  await store.react(chat.id, m1.seq, '👍');
  await eventually(() => snap(store).chats[0]!.last_seq === 3);
  assert.deepEqual(msg(m1.seq).reactions, [{ emoji: '👍', count: 2, me: true }], 'the answer and the event agree');
  server.react(chat.id, m1.seq, 'bob', '👍', true);
  await eventually(() => msg(m1.seq).reactions?.[0]?.count === 1);
  assert.equal(msg(m1.seq).reactions?.[0]?.me, true, 'another user taking theirs back leaves mine');

  const reply = server.post(chat.id, 'bob', '@alice yes', '', { reply_to: m1.seq, mentions: ['alice'] });
  await eventually(() => snap(store).chats[0]!.last_seq === reply.seq);
  assert.equal(msg(reply.seq).quote?.text, 'ship it?');
  assert.equal(msg(m1.seq).reply_count, 1);
  assert.equal(msg(m1.seq).last_reply_seq, reply.seq);
  assert.deepEqual(msg(m1.seq).reactions, [{ emoji: '👍', count: 1, me: true }], 'a reply keeps the reactions of its parent');
  assert.equal(snap(store).chats[0]!.unread_mentions, 1);
  assert.equal(snap(store).chats[0]!.unread_count, 1);

  // An edit of the parent keeps its counters.
  server.edit(chat.id, m1.seq, 'ship it on Friday?');
  await eventually(() => msg(m1.seq).text === 'ship it on Friday?');
  assert.equal(msg(m1.seq).reply_count, 1);
  assert.equal(msg(m1.seq).reactions?.[0]?.count, 1);

  store.send(chat.id, 'thanks @bob', null, { replyTo: reply.seq, mentions: ['bob'] });
  await eventually(() => snap(store).rooms[chat.id]!.messages.some((m) => m.text === 'thanks @bob'));
  const mine = snap(store).rooms[chat.id]!.messages.find((m) => m.text === 'thanks @bob')!;
  assert.equal(mine.reply_to, reply.seq);
  assert.deepEqual(mine.mentions, ['bob']);
  const thread = await client.listReplies(chat.id, m1.seq);
  assert.deepEqual(thread.messages.map((m) => m.seq), [reply.seq]);

  await store.markRead(chat.id);
  await eventually(() => snap(store).chats[0]!.unread_mentions === 0);
});
