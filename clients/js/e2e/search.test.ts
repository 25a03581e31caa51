// The demo page's search box against the real examples/server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { DemoServer, cleanupWorkDir, launchBrowser, screenshot, serverBinary, signIn } from './harness.js';
import { chatItem, openChat, seeMessages, seeText, send } from './pages.js';

let browser: Browser;

before(async () => {
  serverBinary();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  cleanupWorkDir();
});

test('search finds messages of my chats, marks the matches as text, and opens the chat', async (t) => {
  const server = await DemoServer.start();
  t.after(() => server.stop());
  const alice = await signIn(browser, server, 'alice');
  t.after(() => alice.context.close());
  const a = alice.page;

  await a.fill('#group-members', 'bob');
  await a.fill('#group-title', 'Lunch club');
  await a.click('#group-form button[type=submit]');
  await seeText(a, '#chat-title', 'Lunch club');
  await send(a, '<b>Lunch</b> on friday? <img src=x onerror=alert(1)>');
  await send(a, 'nothing to see');
  await seeMessages(a, ['<b>Lunch</b> on friday? <img src=x onerror=alert(1)>', 'nothing to see']);
  await a.click('#back').catch(() => {}); // the list is beside the chat at this width

  await a.fill('#search-q', 'LUN fri');
  await a.click('#search-form button[type=submit]');
  await seeText(a, '#search-status', '1 found');
  const hit = a.locator('#search-list li');
  assert.equal(await hit.count(), 1);
  assert.deepEqual(await hit.locator('mark').allTextContents(), ['Lun', 'fri']);
  assert.equal(await hit.locator('.text').textContent(), '<b>Lunch</b> on friday? <img src=x onerror=alert(1)>');
  assert.equal(await hit.locator('b, img').count(), 0, 'the text is never markup');
  await screenshot(a, 'search-1280');

  await a.fill('#search-q', 'moon');
  await a.click('#search-form button[type=submit]');
  await seeText(a, '#search-status', 'No messages found.');

  await a.fill('#search-q', 'nothing');
  await a.click('#search-form button[type=submit]');
  await seeText(a, '#search-status', '1 found');
  await a.locator('#search-list li button').click();
  await seeText(a, '#chat-title', 'Lunch club');
  await a.click('#search-close');
  assert.equal(await a.locator('#search-results').isHidden(), true);
  await chatItem(a, 'Lunch club').waitFor();
  await openChat(a, 'Lunch club');
});
