// What a user does and sees on the demo page, in the browser tests' words.
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';

export const chatItem = (page: Page, title: string): Locator => page.locator('#chat-list li', { hasText: title });

export async function openChat(page: Page, title: string): Promise<void> {
  await chatItem(page, title).locator('button').click();
  await page.locator('#chat-title', { hasText: title }).waitFor();
}

export async function send(page: Page, text: string): Promise<void> {
  await page.fill('#send-text', text);
  await page.press('#send-text', 'Enter');
}

/** The texts of the confirmed messages on screen, in order. */
export async function messages(page: Page): Promise<string[]> {
  return page.locator('#message-list li.msg[data-seq] .text').allTextContents();
}

/** seeMessages waits until the confirmed messages on screen are exactly want. */
export async function seeMessages(page: Page, want: string[]): Promise<void> {
  try {
    await page.waitForFunction(
      (w) =>
        JSON.stringify([...document.querySelectorAll('#message-list li.msg[data-seq] .text')].map((e) => e.textContent)) ===
        JSON.stringify(w),
      want,
      { timeout: 30000, polling: 50 },
    );
  } catch {
    assert.deepEqual(await messages(page), want);
  }
}

/** The unread badge of a chat in the list, '' when none. */
export async function badge(page: Page, title: string): Promise<string> {
  const b = chatItem(page, title).locator('.badge');
  return (await b.count()) ? ((await b.textContent()) ?? '') : '';
}

export async function seeBadge(page: Page, title: string, want: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([t, w]) => {
        const li = [...document.querySelectorAll('#chat-list li')].find((e) => e.textContent!.includes(t!));
        const b = li?.querySelector('.badge');
        return (b ? b.textContent : '') === w;
      },
      [title, want],
      { timeout: 30000, polling: 50 },
    );
  } catch {
    assert.equal(await badge(page, title), want, `unread badge of ${title}`);
  }
}

/** seeText waits until an element matching selector shows text. */
export async function seeText(page: Page, selector: string, text: string | RegExp): Promise<void> {
  await page.locator(selector, { hasText: text }).first().waitFor({ timeout: 30000 });
}

export async function connectionText(page: Page): Promise<string> {
  return (await page.textContent('#conn-text')) ?? '';
}
