import { ChatClient, type ChatClientOptions } from '../src/client.js';
import { MemoryStorage } from '../src/storage.js';
import type { ChatEvent } from '../src/types.js';
import { userSocket, type FakeServer } from './fake-server.js';

/** eventually resolves when cond holds, checking after every turn of the event loop. */
export async function eventually(cond: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 15000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('never happened: ' + what);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A client of the fake server with fast reconnects and its delivered events. */
export function testClient(server: FakeServer, user: string, opts: Partial<ChatClientOptions> = {}) {
  const client = new ChatClient({
    baseUrl: server.baseUrl,
    userId: user,
    headers: { 'X-User': user },
    WebSocket: userSocket(user) as any,
    storage: new MemoryStorage(),
    minReconnectDelay: 5,
    maxReconnectDelay: 20,
    ...opts,
  });
  const events: ChatEvent[] = [];
  client.on('event', (e) => events.push(e));
  return { client, events };
}

export function seqs(events: ChatEvent[], chatId: string): number[] {
  return events.filter((e) => e.chat_id === chatId && 'seq' in e).map((e) => (e as { seq: number }).seq);
}
