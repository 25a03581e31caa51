// Browser tests of the demo page, which is built on @embedchat/client,
// against the real examples/server: two users in two browser contexts.
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  DemoServer,
  cleanupWorkDir,
  connected,
  freshPrefix,
  freshSchema,
  launchBrowser,
  needServices,
  postgresURL,
  redisURL,
  screenshot,
  serverBinary,
  signIn,
} from './harness.js';
import { badge, chatItem, connectionText, messages, openChat, seeBadge, seeMessages, seeText, send } from './pages.js';

let browser: Browser;

// retryNow skips the wait before the next reconnect, if there is one.
async function retryNow(page: Page): Promise<void> {
  await page.locator('#conn-retry').click({ timeout: 1000 }).catch(() => {});
}

before(async () => {
  serverBinary();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  cleanupWorkDir();
});

test('two users chat: create, both ways, edit, delete, receipts, unread badges, members, reload, layout', async (t) => {
  const server = await DemoServer.start();
  t.after(() => server.stop());
  const alice = await signIn(browser, server, 'alice');
  const bob = await signIn(browser, server, 'bob');
  t.after(() => alice.context.close());
  t.after(() => bob.context.close());
  const a = alice.page;
  const b = bob.page;

  // A new user sees what to do, not an empty page.
  await seeText(a, '#chats-empty', 'No chats yet');

  // alice starts a group with bob; it shows up for bob live.
  await a.fill('#group-members', 'bob');
  await a.fill('#group-title', 'Team');
  await a.click('#group-form button[type=submit]');
  await seeText(a, '#chat-title', 'Team');
  await seeText(a, '#messages-empty', 'No messages yet');
  await chatItem(b, 'Team').waitFor();

  // Both ways; bob has not opened the chat, so it counts as unread.
  await send(a, 'hi bob');
  await seeMessages(a, ['hi bob']);
  await seeBadge(b, 'Team', '1');
  await send(a, 'are you there?');
  await seeBadge(b, 'Team', '2');
  assert.equal(await badge(a, 'Team'), '', 'your own messages are never unread');

  await openChat(b, 'Team');
  await seeMessages(b, ['hi bob', 'are you there?']);
  await seeBadge(b, 'Team', '');
  // bob has read both: alice sees the receipt under her last message.
  await seeText(a, '#message-list li.msg:last-child .seen', 'seen by bob');

  await send(b, 'here!');
  await seeMessages(a, ['hi bob', 'are you there?', 'here!']);
  await seeMessages(b, ['hi bob', 'are you there?', 'here!']);

  // alice edits her first message and deletes her second.
  const seq = await a.locator('#message-list li.msg', { hasText: 'hi bob' }).getAttribute('data-seq');
  const first = a.locator(`#message-list li.msg[data-seq="${seq}"]`);
  await first.locator('button', { hasText: 'edit' }).click();
  await first.locator('input').fill('hi bob (edited)');
  await first.locator('button', { hasText: 'Save' }).click();
  await seeMessages(b, ['hi bob (edited)', 'are you there?', 'here!']);
  await seeText(b, '#message-list li.msg:first-child .meta', 'edited');
  await a.locator('#message-list li.msg', { hasText: 'are you there?' }).locator('button', { hasText: 'delete' }).click();
  await seeMessages(b, ['hi bob (edited)', 'message deleted', 'here!']);
  await seeMessages(a, ['hi bob (edited)', 'message deleted', 'here!']);

  // Members: alice (the creator) adds carol, bob sees her; then removes her.
  await a.click('#members-toggle');
  await a.fill('#add-member-name', 'carol');
  await a.click('#add-member-form button[type=submit]');
  await seeText(b, '#chat-members', 'alice, bob, carol');
  await a.click('#member-list li[data-user-id="carol"] button');
  await b.waitForFunction(() => !document.querySelector('#chat-members')!.textContent!.includes('carol'), undefined, { polling: 50 });
  await seeText(a, '#chat-members', 'alice, bob');

  // Roles: alice, the creator, owns the group; she makes bob an admin, and
  // bob's page shows it and lets him delete alice's messages.
  await seeText(a, '#member-list li[data-user-id="alice"] .role', 'owner');
  await a.click('#member-list li[data-user-id="bob"] button[aria-label="make bob admin"]');
  await b.click('#members-toggle');
  await seeText(b, '#member-list li[data-user-id="bob"] .role', 'admin');
  await seeText(b, '#message-list li.msg:first-child .meta', 'delete');

  // bob reloads: the chat that was open comes back, with nothing twice.
  await b.reload();
  await connected(b);
  await seeText(b, '#chat-title', 'Team');
  await seeMessages(b, ['hi bob (edited)', 'message deleted', 'here!']);
  await send(a, 'after your reload');
  await seeMessages(b, ['hi bob (edited)', 'message deleted', 'here!', 'after your reload']);

  // An empty direct chat says so.
  await a.fill('#direct-name', 'dave');
  await a.click('#direct-form button[type=submit]');
  await seeText(a, '#chat-title', 'dave');
  await seeText(a, '#messages-empty', 'No messages yet');
  await openChat(a, 'Team');

  await screenshot(a, 'chat-1280');
  await screenshot(b, 'chat-1280-bob');

  // At 390 px: the list or the chat, each the full width.
  await b.setViewportSize({ width: 390, height: 844 });
  await send(b, 'a longer message to see that words wrap as words and not letter by letter on a phone');
  await seeText(b, '#message-list li.msg:last-child .text', 'letter by letter');
  const pane = await b.locator('#chat-view').boundingBox();
  assert.ok(pane && pane.width >= 380, `chat pane is ${pane?.width} px wide at 390 px`);
  assert.equal(await b.locator('.sidebar').isVisible(), false, 'the list hides while a chat is open');
  const bubble = await b.locator('#message-list li.msg:last-child').boundingBox();
  assert.ok(bubble && bubble.width > 200, `a long message's bubble is ${bubble?.width} px wide`);
  await b.click('#members-toggle');
  const add = await b.locator('#add-member-form button').boundingBox();
  assert.ok(add && add.x >= 0 && add.x + add.width <= 390, `"Add member" ends at ${add && add.x + add.width} px`);
  const phoneChat = await screenshot(b, 'chat-390');
  await b.click('#back');
  await b.locator('.sidebar').waitFor();
  assert.equal(await b.locator('#chat-view').isVisible(), false, 'the chat hides behind the list');
  const phoneList = await screenshot(b, 'list-390');
  console.log('screenshots:', phoneChat, phoneList);
});

test('the memory backend restarting: a human connection badge, sends that fail with a retry, and a notice', async (t) => {
  const server = await DemoServer.start();
  t.after(() => server.stop());
  const alice = await signIn(browser, server, 'alice');
  t.after(() => alice.context.close());
  const a = alice.page;
  await a.fill('#direct-name', 'bob');
  await a.click('#direct-form button[type=submit]');
  await seeText(a, '#chat-title', 'bob');
  await send(a, 'before the crash');
  await seeMessages(a, ['before the crash']);

  await server.kill();
  // The badge says what happened in words and counts down.
  await seeText(a, '#conn-text', /^Offline: the connection was lost\. Retrying (in \d+ s|now)\.$/);
  const seen = new Set<string>();
  await a.waitForFunction(
    () => {
      const w = window as unknown as { seenBadges?: Set<string> };
      w.seenBadges ??= new Set();
      const text = document.querySelector('#conn-text')!.textContent!;
      if (/Retrying in \d+ s/.test(text)) w.seenBadges.add(text);
      return w.seenBadges.size >= 2;
    },
    undefined,
    { timeout: 60000, polling: 100 },
  );
  seen.add(await connectionText(a));
  assert.doesNotMatch([...seen].join(), /\d{4}/, 'no raw close codes');

  // A message sent while the server is down fails in words, with a retry.
  await send(a, 'while down');
  await seeText(a, '#message-list li.failed .status', "Not sent. Can't reach the chat server.");
  await a.locator('#message-list li.failed button', { hasText: 'Retry' }).waitFor();
  await screenshot(a, 'offline-1280');

  // The server comes back empty: the user is told, not left with nothing.
  await server.run();
  await retryNow(a);
  await connected(a);
  await seeText(a, '#lost-text', 'The server no longer has your chats (bob)');
  assert.equal(await a.locator('#chat-list li').count(), 0);
  assert.equal(await a.locator('#chat-view').isVisible(), false, 'the lost chat is closed');
  await screenshot(a, 'server-lost-1280');
  await a.click('#lost-dismiss');
  await a.locator('#lost').waitFor({ state: 'hidden' });
});

test('PostgreSQL: killing and restarting the server mid-conversation loses nothing and repeats nothing', async (t) => {
  if (!(await needServices(t, false))) return;
  const schema = freshSchema(t);
  const server = await DemoServer.start(['-postgres', postgresURL, '-postgres-schema', schema]);
  t.after(() => server.stop());
  const alice = await signIn(browser, server, 'alice');
  const bob = await signIn(browser, server, 'bob');
  t.after(() => alice.context.close());
  t.after(() => bob.context.close());
  const a = alice.page;
  const b = bob.page;

  await a.fill('#direct-name', 'bob');
  await a.click('#direct-form button[type=submit]');
  await chatItem(b, 'alice').waitFor();
  await openChat(b, 'alice');
  const said: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const who = i % 2 ? a : b;
    await send(who, 'before ' + i);
    said.push('before ' + i);
    await seeMessages(a, said);
    await seeMessages(b, said);
  }

  await server.kill();
  await send(a, 'during the outage');
  await a.locator('#message-list li.failed button', { hasText: 'Retry' }).waitFor({ timeout: 60000 });
  await server.run();
  await retryNow(a);
  await retryNow(b);
  await connected(a);
  await connected(b);
  await a.locator('#message-list li.failed button', { hasText: 'Retry' }).click();
  said.push('during the outage');
  await seeMessages(a, said);
  await seeMessages(b, said);
  await send(b, 'after the restart');
  said.push('after the restart');
  await seeMessages(a, said);
  await seeMessages(b, said);
  assert.equal(await a.locator('#lost').isVisible(), false, 'nothing was lost, so nothing is reported');

  // And after reloads, the same: nothing lost, nothing twice.
  await a.reload();
  await b.reload();
  await connected(a);
  await connected(b);
  await seeMessages(a, said);
  await seeMessages(b, said);
  assert.deepEqual(await messages(b), said);
});

// aliceAndBobOnTwoServers starts two demo servers sharing PostgreSQL and
// Redis and signs alice in on the first, bob on the second; undefined when
// the services are missing (the test is skipped).
async function aliceAndBobOnTwoServers(t: TestContext): Promise<[Page, Page] | undefined> {
  if (!(await needServices(t, true))) return undefined;
  const args = ['-postgres', postgresURL, '-postgres-schema', freshSchema(t), '-redis', redisURL, '-redis-prefix', freshPrefix()];
  const one = await DemoServer.start(args);
  t.after(() => one.stop());
  const two = await DemoServer.start(args);
  t.after(() => two.stop());
  const alice = await signIn(browser, one, 'alice');
  const bob = await signIn(browser, two, 'bob');
  t.after(() => alice.context.close());
  t.after(() => bob.context.close());
  return [alice.page, bob.page];
}

test('two servers on PostgreSQL and Redis, one user on each', async (t) => {
  const pages = await aliceAndBobOnTwoServers(t);
  if (!pages) return;
  const [a, b] = pages;

  await a.fill('#group-members', 'bob');
  await a.fill('#group-title', 'Across servers');
  await a.click('#group-form button[type=submit]');
  await chatItem(b, 'Across servers').waitFor();
  await send(a, 'from server one');
  await seeBadge(b, 'Across servers', '1');
  await openChat(b, 'Across servers');
  await seeMessages(b, ['from server one']);
  await seeText(a, '#message-list li.msg:last-child .seen', 'seen by bob');

  // bob types (his first keystrokes in this chat, so the throttle lets
  // them out): alice, on the other server, sees it. The notice lasts a
  // few seconds, so her page records every text it shows.
  await a.evaluate(() => {
    const box = document.querySelector('#typing')!;
    const w = window as unknown as { typingShown: string[] };
    w.typingShown = [];
    new MutationObserver(() => w.typingShown.push(box.textContent ?? '')).observe(box, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  await b.type('#send-text', 'from server two');
  await a.waitForFunction(
    () => (window as unknown as { typingShown: string[] }).typingShown.includes('bob is typing…'),
    undefined,
    { polling: 50, timeout: 30000 },
  );
  await b.press('#send-text', 'Enter');
  await seeMessages(a, ['from server one', 'from server two']);
  await seeMessages(b, ['from server one', 'from server two']);

  // Presence across servers: bob sees alice online, then, once her page
  // is gone and the grace period is over, offline.
  await seeText(b, '#chat-presence', '1 online');
  await b.locator('#member-list li[data-user-id="alice"][data-online="true"]').waitFor({ state: 'attached', timeout: 30000 });
  await a.context().close();
  await seeText(b, '#chat-presence', '0 online');
  await b.locator('#member-list li[data-user-id="alice"][data-online="false"]').waitFor({ state: 'attached', timeout: 30000 });
});

test('reactions, a reply in a thread and a mention, across two servers on PostgreSQL and Redis', async (t) => {
  const pages = await aliceAndBobOnTwoServers(t);
  if (!pages) return;
  const [a, b] = pages;

  await a.fill('#group-members', 'bob');
  await a.fill('#group-title', 'Launch');
  await a.click('#group-form button[type=submit]');
  await chatItem(b, 'Launch').waitFor();
  await send(a, 'ship it?');
  await openChat(b, 'Launch');
  await seeMessages(b, ['ship it?']);

  // bob reacts; alice sees the count, and that it is not hers.
  const asked = (p: Page) => p.locator('#message-list li.msg[data-seq]', { hasText: 'ship it?' }).first();
  await asked(b).locator('button[aria-label="react 👍"]').click();
  await seeText(a, '#message-list li.msg .reactions button[aria-pressed="false"]', '👍 1');
  await seeText(b, '#message-list li.msg .reactions button[aria-pressed="true"]', '👍 1');
  // alice adds hers by clicking the count.
  await asked(a).locator('.reactions button', { hasText: '👍' }).click();
  await seeText(b, '#message-list li.msg .reactions button', '👍 2');

  // alice closes the chat; bob replies to her and mentions her.
  await a.evaluate(() => {
    location.hash = '#/';
  });
  await a.locator('#no-chat').waitFor();
  await asked(b).locator('button', { hasText: 'reply' }).click();
  await seeText(b, '#reply-text', 'Replying to alice: ship it?');
  await send(b, '@alice yes, today');
  await seeBadge(a, 'Launch', '1');
  await seeText(a, '#chat-list li .badge.mention', '@1');

  // alice sees the quote, the thread count, and the thread.
  await openChat(a, 'Launch');
  await seeMessages(a, ['ship it?', '@alice yes, today']);
  await seeText(a, '#message-list li.msg.mentions-me .quote', '↩ alice: ship it?');
  await asked(a).locator('button.replies', { hasText: '1 reply' }).click();
  await seeText(a, '#thread-list li', 'bob: @alice yes, today');
  assert.equal(await chatItem(a, 'Launch').locator('.badge.mention').count(), 0, 'read: no mention left');
});

test('attachments: an image shows inline for both users, a file is a download link, a deleted message takes them away', async (t) => {
  const server = await DemoServer.start();
  t.after(() => server.stop());
  const alice = await signIn(browser, server, 'alice');
  const bob = await signIn(browser, server, 'bob');
  t.after(() => alice.context.close());
  t.after(() => bob.context.close());
  const a = alice.page;
  const b = bob.page;

  await a.fill('#group-members', 'bob');
  await a.fill('#group-title', 'Files');
  await a.click('#group-form button[type=submit]');
  await seeText(a, '#chat-title', 'Files');
  await openChat(b, 'Files');

  // A 2x3 PNG, and a text file; the browser's claimed types do not matter.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAAEklEQVR4nGP4z8DwHwyBNAMAXwQD/ZiqwfMAAAAASUVORK5CYII=',
    'base64',
  );
  await a.setInputFiles('#send-files', [
    { name: 'dot.png', mimeType: 'application/octet-stream', buffer: png },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('some notes') },
  ]);
  await seeText(a, '#send-files-list', 'dot.png');
  await a.fill('#send-text', 'look');
  await a.press('#send-text', 'Enter');
  await seeMessages(a, ['look']);
  await seeMessages(b, ['look']);

  for (const page of [a, b]) {
    const img = page.locator('#message-list li.msg img.attachment-image');
    await img.waitFor();
    await page.waitForFunction(() => {
      const i = document.querySelector<HTMLImageElement>('#message-list img.attachment-image');
      return i !== null && i.complete && i.naturalWidth === 2 && i.naturalHeight === 3;
    }, undefined, { timeout: 30000 });
    assert.equal(await img.getAttribute('alt'), 'dot.png');
    const file = page.locator('#message-list li.msg a.attachment.file');
    assert.match((await file.textContent()) ?? '', /notes\.txt/);
    assert.equal(await file.getAttribute('download'), 'notes.txt');
  }
  // The file downloads with the bytes sent.
  const href = await b.locator('#message-list a.attachment.file').getAttribute('href');
  const body = await b.evaluate(async (u) => (await fetch(u!)).text(), href);
  assert.equal(body, 'some notes');

  // An HTML file is refused with the server's reason, and nothing is sent.
  await a.setInputFiles('#send-files', [{ name: 'x.html', mimeType: 'text/html', buffer: Buffer.from('<html><script>1</script></html>') }]);
  await a.press('#send-text', 'Enter');
  await seeText(a, '#chat-error', 'not allowed');
  await seeMessages(a, ['look']);

  const seq = await a.locator('#message-list li.msg', { hasText: 'look' }).getAttribute('data-seq');
  await a.locator(`#message-list li.msg[data-seq="${seq}"] .action`, { hasText: 'delete' }).click();
  await b.locator('#message-list img.attachment-image').waitFor({ state: 'detached' });
  const gone = await b.evaluate(async (u) => (await fetch(u!)).status, href);
  assert.equal(gone, 404, 'deleting the message deleted the file');
});
