import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { ChatError, describeError } from '../src/errors.js';
import { highlightSegments } from '../src/search.js';
import { FakeServer } from './fake-server.js';
import { testClient } from './helpers.js';

let server: FakeServer;

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  await server.close();
});

test('search sends q, chat_id, limit and cursor, and returns the page', async () => {
  const { client } = testClient(server, 'alice');
  const hit = {
    message: { chat_id: 'c1', seq: 3, sender: 'bob', text: 'lunch?', client_id: '', metadata: null, created_at: '2026-11-28T04:43:26.278545Z', deleted: false },
    highlights: [{ start: 0, end: 5 }],
  };
  server.intercept = (r) => (r.path.startsWith('/search') ? { status: 200, body: { hits: [hit], next_cursor: 'next' } } : undefined);
  const page = await client.search('lunch fri', { chatId: 'c 1', limit: 5, cursor: 'abc' });
  assert.deepEqual(page, { hits: [hit], next_cursor: 'next' });
  const r = server.requests.at(-1)!;
  assert.equal(r.method, 'GET');
  const url = new URL(r.path, 'http://x');
  assert.equal(url.pathname, '/search');
  assert.deepEqual(Object.fromEntries(url.searchParams), { q: 'lunch fri', chat_id: 'c 1', limit: '5', cursor: 'abc' });
});

test('a server that cannot search is a not_implemented ChatError', async () => {
  const { client } = testClient(server, 'alice');
  server.intercept = () => ({ status: 501, body: { error: { code: 'not_implemented', message: 'search is not available' } } });
  await assert.rejects(client.search('x'), (err: unknown) => {
    assert.ok(err instanceof ChatError);
    assert.equal(err.status, 501);
    assert.equal(err.code, 'not_implemented');
    assert.equal(describeError(err), 'The chat server does not offer this.');
    return true;
  });
});

test('highlightSegments cuts text at the ranges, counting UTF-16 units, and never loses text', () => {
  const text = '🎉 Party time, <b>PARTY</b>!';
  assert.deepEqual(highlightSegments(text, [{ start: 3, end: 7 }, { start: 18, end: 22 }]), [
    { text: '🎉 ', match: false },
    { text: 'Part', match: true },
    { text: 'y time, <b>', match: false },
    { text: 'PART', match: true },
    { text: 'Y</b>!', match: false },
  ]);
  assert.deepEqual(highlightSegments('abc', []), [{ text: 'abc', match: false }]);
  assert.deepEqual(highlightSegments('', []), [{ text: '', match: false }]);
  // Overlapping, backwards and out-of-range ranges are clamped or skipped.
  const odd = highlightSegments('abcdef', [{ start: 1, end: 3 }, { start: 2, end: 4 }, { start: 5, end: 2 }, { start: 5, end: 99 }]);
  assert.equal(odd.map((s) => s.text).join(''), 'abcdef');
  assert.deepEqual(odd.filter((s) => s.match).map((s) => s.text), ['bc', 'd', 'f']);
});
