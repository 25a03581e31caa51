import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { ChatError, describeError } from '../src/errors.js';
import { MemoryStorage } from '../src/storage.js';
import type { ConnectionStatus } from '../src/client.js';
import { FakeServer } from './fake-server.js';
import { eventually, seqs, testClient } from './helpers.js';

let server: FakeServer;
const stops: Array<() => void> = [];

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  for (const s of stops.splice(0)) s();
  await server.close();
});

function start(user: string, opts: Parameters<typeof testClient>[2] = {}) {
  const t = testClient(server, user, opts);
  stops.push(() => t.client.disconnect());
  return t;
}

test('resumes from stored positions and delivers only what it lacks, in order', async () => {
  const chat = server.createChat('alice', ['bob']);
  for (let i = 1; i <= 4; i++) server.post(chat.id, 'bob', 'hi ' + i);
  const storage = new MemoryStorage();
  storage.setItem('embedchat:positions:alice', JSON.stringify({ [chat.id]: 2 }));

  const { client, events } = start('alice', { storage });
  client.connect();
  const s = await server.socket(1);
  assert.deepEqual(s.resume, { [chat.id]: 2 });
  await eventually(() => client.status.state === 'connected');
  assert.deepEqual(seqs(events, chat.id), [3, 4]);
  assert.equal(client.position(chat.id), 4);
});

test('drops duplicate and stale events, and resyncs on a gap', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client, events } = start('alice');
  const resyncs: string[] = [];
  client.on('resync', (id) => resyncs.push(id));
  client.advance(chat.id, 0);
  client.connect();
  const s = await server.socket(1);
  const m = (seq: number) => ({ type: 'message.created', chat_id: chat.id, seq, message: { chat_id: chat.id, seq, sender: 'bob', text: 't' + seq } });
  s.send(m(1));
  s.send(m(1));
  s.send(m(2));
  s.send(m(1));
  s.send(m(5)); // 3 and 4 never came: refetch
  s.send(m(6)); // after the resync, live events continue from wherever the server is
  await eventually(() => seqs(events, chat.id).length === 3);
  assert.deepEqual(seqs(events, chat.id), [1, 2, 6]);
  assert.deepEqual(resyncs, [chat.id]);
});

test('reconnects after the server goes away and replays what it missed exactly once', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client, events } = start('alice');
  const states: ConnectionStatus[] = [];
  client.on('status', (s) => states.push(s));
  client.advance(chat.id, 0);
  client.connect();
  server.post(chat.id, 'bob', 'one');
  const first = await server.socket(1);
  await eventually(() => seqs(events, chat.id).length === 1);

  first.close(1001);
  await eventually(() => states.some((s) => s.lastClose?.code === 1001));
  server.post(chat.id, 'bob', 'two'); // while nobody is connected
  const second = await server.socket(2);
  assert.deepEqual(second.resume, { [chat.id]: 1 });
  server.post(chat.id, 'bob', 'three');
  await eventually(() => seqs(events, chat.id).length === 3);
  assert.deepEqual(seqs(events, chat.id), [1, 2, 3]);
  const closed = states.find((s) => s.lastClose?.code === 1001)!;
  assert.equal(closed.state, 'disconnected');
  assert.equal(closed.lastClose!.reason, 'the server is restarting');
  assert.ok(closed.retryAt !== null && closed.retryDelay !== null);
  assert.equal(client.status.state, 'connected');
  assert.equal(client.status.attempt, 0, 'a resume resets the attempts');
});

test('4001 waits the longest delay and reports the client at fault; 4000 resumes at once', async () => {
  const { client } = start('alice', { minReconnectDelay: 5, maxReconnectDelay: 60000, random: () => 0 });
  const errors: Array<{ code: string }> = [];
  client.on('error', (e) => errors.push(e));
  client.connect();
  (await server.socket(1)).close(4001);
  await eventually(() => client.status.lastClose?.code === 4001);
  assert.equal(client.status.state, 'disconnected');
  assert.equal(client.status.retryDelay, 30000, 'no retry storm: half the longest delay with no jitter');
  assert.deepEqual(
    errors.map((e) => e.code),
    ['4001'],
  );
  client.reconnectNow();
  (await server.socket(2)).close(4000);
  await eventually(() => client.status.lastClose?.code === 4000);
  assert.equal(client.status.retryDelay, 0, 'a slow consumer resumes at once');
  await server.socket(3);
  await eventually(() => client.status.state === 'connected');
});

test('1013 backs off from the fourth step even on the first attempt', async () => {
  const { client } = start('alice', { minReconnectDelay: 100, maxReconnectDelay: 60000, random: () => 0.5 });
  client.connect();
  (await server.socket(1)).close(1013);
  await eventually(() => client.status.lastClose?.code === 1013);
  assert.equal(client.status.retryDelay, 400, 'half of 100 * 2^3');
  client.disconnect();
  assert.equal(client.status.state, 'disconnected');
  assert.equal(client.status.retryAt, null, 'disconnect cancels the planned attempt');
});

test('positions persist, and a new client with the same storage resumes from them', async () => {
  const chat = server.createChat('alice', ['bob']);
  const storage = new MemoryStorage();
  const first = start('alice', { storage });
  first.client.advance(chat.id, 0);
  first.client.connect();
  server.post(chat.id, 'bob', 'a');
  server.post(chat.id, 'bob', 'b');
  await eventually(() => seqs(first.events, chat.id).length === 2);
  first.client.disconnect();
  await eventually(() => storage.getItem('embedchat:positions:alice') === JSON.stringify({ [chat.id]: 2 }));

  server.post(chat.id, 'bob', 'c');
  const second = start('alice', { storage });
  second.client.connect();
  assert.deepEqual((await server.socket(2)).resume, { [chat.id]: 2 });
  await eventually(() => second.client.status.state === 'connected');
  assert.deepEqual(seqs(second.events, chat.id), [3]);
});

test('a member.removed naming the user forgets the chat', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client, events } = start('alice');
  client.advance(chat.id, 0);
  client.connect();
  await server.socket(1);
  server.removeMember(chat.id, 'alice');
  await eventually(() => events.length === 1);
  assert.equal(client.position(chat.id), undefined);
});

test('typing is throttled on the client', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client } = start('alice', { typingInterval: 60000 });
  client.connect();
  const s = await server.socket(1);
  await eventually(() => client.status.state === 'connected');
  for (let i = 0; i < 5; i++) client.typing(chat.id);
  client.typing('other');
  await s.framesReceived(2);
  assert.deepEqual(s.frames, [
    { type: 'typing', chat_id: chat.id },
    { type: 'typing', chat_id: 'other' },
  ]);
});

test('sends retry transient failures with the same client_id, and every body is JSON', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client } = start('alice');
  let refusals = 2;
  server.intercept = (r) => {
    if (r.method === 'POST' && r.path.endsWith('/messages') && refusals-- > 0) {
      return refusals === 1
        ? { status: 503, body: { error: { code: 'unavailable', message: 'unavailable' } }, headers: { 'Retry-After': '0' } }
        : { status: 0 };
    }
    return undefined;
  };
  const m = await client.sendMessage(chat.id, { text: 'hello' });
  const posts = server.requests.filter((r) => r.method === 'POST');
  assert.equal(posts.length, 3);
  assert.equal(new Set(posts.map((p) => p.body.client_id)).size, 1, 'one client_id across retries');
  assert.equal(m.client_id, posts[0]!.body.client_id);
  for (const p of posts) assert.equal(p.contentType, 'application/json');
  await client.markRead(chat.id, 1);
  assert.equal(server.requests.at(-1)!.contentType, 'application/json');
});

test('errors carry the code, the status and Retry-After, and read as sentences', async () => {
  const { client } = start('alice', { sendRetries: 0 });
  server.intercept = () => ({
    status: 429,
    body: { error: { code: 'rate_limited', message: 'slow down' } },
    headers: { 'Retry-After': '3' },
  });
  await assert.rejects(client.sendMessage('x', { text: 'hi' }), (err: unknown) => {
    assert.ok(err instanceof ChatError);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.retryAfter, 3);
    assert.equal(describeError(err), 'You are sending too fast. Try again in 3 s.');
    return true;
  });
  server.intercept = () => ({ status: 0 });
  await assert.rejects(client.listChats(), (err: unknown) => {
    assert.ok(err instanceof ChatError && err.code === 'network' && err.status === 0);
    assert.equal(describeError(err), "Can't reach the chat server. Check your connection.");
    return true;
  });
  server.intercept = () => ({ status: 415, body: { error: { code: 'unsupported_media_type', message: 'send JSON' } } });
  await assert.rejects(client.listChats(), (err: unknown) => err instanceof ChatError && err.code === 'unsupported_media_type');
});

test('unknown event types and fields are ignored', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client, events } = start('alice');
  client.connect();
  const s = await server.socket(1);
  s.send({ type: 'something.new', chat_id: chat.id, seq: 9 });
  s.send({ type: 'typing', chat_id: chat.id, user_id: 'bob', member_count: 2 });
  await eventually(() => events.length === 1);
  assert.equal(events[0]!.type, 'typing');
});

test('roles, bans, settings and blocks go to their routes', async () => {
  const { client } = start('alice');
  server.intercept = (r) => {
    if (r.method === 'GET' && r.path === '/chats/c1/bans') return { status: 200, body: { bans: [{ user_id: 'bob', banned_by: 'alice', at: 'x' }] } };
    if (r.method === 'GET' && r.path === '/blocks') return { status: 200, body: { blocks: [{ user_id: 'mallory', at: 'x' }] } };
    if (r.method === 'PATCH' && r.path === '/chats/c1/settings') return { status: 200, body: { muted: false, archived: false, pinned: true } };
    if (r.method === 'PATCH') return { status: 200, body: {} };
    return { status: 204 };
  };
  await client.setRole('c1', 'bob', 'admin');
  await client.updateChat('c1', { title: 'Team', metadata: null });
  await client.ban('c1', 'bob');
  await client.unban('c1', 'bob');
  assert.deepEqual((await client.listBans('c1')).map((b) => b.user_id), ['bob']);
  assert.equal((await client.updateSettings('c1', { pinned: true })).pinned, true);
  await client.block('mallory');
  await client.unblock('mallory');
  assert.deepEqual((await client.listBlocks()).map((b) => b.user_id), ['mallory']);
  await client.listChats({ archived: 'exclude' }).catch(() => undefined);
  assert.deepEqual(
    server.requests.map((r) => `${r.method} ${r.path} ${r.body === undefined ? '' : JSON.stringify(r.body)}`.trim()),
    [
      'PATCH /chats/c1/members/bob {"role":"admin"}',
      'PATCH /chats/c1 {"title":"Team","metadata":null}',
      'POST /chats/c1/bans {"user_id":"bob"}',
      'DELETE /chats/c1/bans/bob',
      'GET /chats/c1/bans',
      'PATCH /chats/c1/settings {"pinned":true}',
      'POST /blocks {"user_id":"mallory"}',
      'DELETE /blocks/mallory',
      'GET /blocks',
      'GET /chats?archived=exclude',
    ],
  );
});

test('the new persisted events advance positions without a gap', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client, events } = start('bob');
  client.connect();
  await server.socket(1);
  server.setRole(chat.id, 'alice', 'bob', 'admin');
  server.rename(chat.id, 'bob', 'Renamed');
  server.settings(chat.id, 'bob', { muted: true, archived: false, pinned: false });
  server.post(chat.id, 'alice', 'after');
  await eventually(() => seqs(events, chat.id).length === 4);
  assert.deepEqual(seqs(events, chat.id), [1, 2, 3, 4]);
  assert.equal(client.position(chat.id), 4);
});

test('uploads a file as it is, sends it by id and downloads it with the client headers', async () => {
  const chat = server.createChat('alice', ['bob']);
  const { client } = start('alice');
  const attachment = {
    id: 'a1', chat_id: chat.id, uploader: 'alice', content_type: 'image/png', size: 4, name: 'dot.png',
    width: 1, height: 1, created_at: '2026-12-01T00:00:00Z', message_seq: 0,
  };
  server.intercept = (r) => {
    if (r.path.startsWith(`/chats/${chat.id}/attachments?`) && r.method === 'POST') return { status: 201, body: attachment };
    if (r.path === `/chats/${chat.id}/attachments/a1`) return { status: 200, raw: 'PNG!', headers: { 'Content-Type': 'image/png' } };
    return undefined;
  };
  const up = await client.uploadAttachment(chat.id, new Blob(['PNG!']), 'dot.png');
  assert.deepEqual(up, attachment);
  const sent = server.requests.at(-1)!;
  assert.equal(sent.path, `/chats/${chat.id}/attachments?name=dot.png`);
  assert.equal(sent.contentType, 'application/octet-stream', 'never a type a form can send');
  assert.equal(sent.body, 'PNG!', 'the file is the body, not multipart');
  assert.equal(sent.user, 'alice');

  const blob = await client.downloadAttachment(chat.id, 'a1');
  assert.equal(await blob.text(), 'PNG!');
  assert.equal(server.requests.at(-1)!.user, 'alice');
  assert.equal(client.attachmentUrl(chat.id, 'a1'), `${server.baseUrl}/chats/${chat.id}/attachments/a1`);

  server.intercept = () => ({ status: 415, body: { error: { code: 'unsupported_media_type', message: 'attachments of type text/html are not allowed here' } } });
  await assert.rejects(client.uploadAttachment(chat.id, new Blob(['<html>'])), (err: unknown) => err instanceof ChatError && err.code === 'unsupported_media_type');
  server.intercept = () => ({ status: 404, body: { error: { code: 'not_found', message: 'not found' } } });
  await assert.rejects(client.downloadAttachment(chat.id, 'gone'), (err: unknown) => err instanceof ChatError && err.status === 404);
});
