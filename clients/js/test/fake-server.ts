// A fake chat server for the client's unit tests: a small in-memory model
// of docs/protocol.md over real HTTP and WebSocket (the ws package), with
// handles for tests to break it on purpose: refuse requests, send raw
// frames, close sockets with a code. The real server's behaviour is proven
// by the Go tests and the browser tests; this one is for client logic.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Chat, MemberSettings, Message, PersistedEvent, Role } from '../src/types.js';

interface ChatData {
  chat: Omit<Chat, 'unread_count' | 'last_message' | 'member_count'>;
  events: PersistedEvent[];
  messages: Map<number, Message>;
}

/** A REST request as the fake server received it. */
export interface SeenRequest {
  method: string;
  path: string;
  user: string;
  contentType: string | undefined;
  body: any;
}

/** What a test's intercept answers instead of the model. */
export interface FakeResponse {
  status: number;
  body?: unknown;
  /** A body sent as it is, not as JSON, with its own Content-Type header. */
  raw?: string;
  headers?: Record<string, string>;
}

/** A WebSocket connection to the fake server. */
export class FakeSocket {
  resume: Record<string, number> | null = null;
  readonly frames: any[] = [];
  closed = false;
  private resumedWaiters: Array<() => void> = [];
  private frameWaiters: Array<() => void> = [];

  constructor(
    readonly user: string,
    readonly ws: WebSocket,
  ) {}

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** close closes with a code; 1006 (never sent on the wire) drops the TCP connection. */
  close(code: number): void {
    if (code === 1006) this.ws.terminate();
    else this.ws.close(code);
  }

  /** Resolves once the client has sent its resume frame. */
  resumed(): Promise<void> {
    if (this.resume) return Promise.resolve();
    return new Promise((r) => this.resumedWaiters.push(r));
  }

  /** Resolves once the client has sent n frames after its resume. */
  async framesReceived(n: number): Promise<void> {
    while (this.frames.length < n) await new Promise<void>((r) => this.frameWaiters.push(r));
  }

  onResume(): void {
    for (const w of this.resumedWaiters.splice(0)) w();
  }

  onFrame(): void {
    for (const w of this.frameWaiters.splice(0)) w();
  }
}

export class FakeServer {
  readonly requests: SeenRequest[] = [];
  readonly sockets: FakeSocket[] = [];
  /** Answers a request instead of the model when it returns a response. */
  intercept: ((req: SeenRequest) => FakeResponse | undefined | Promise<FakeResponse | undefined>) | null = null;
  /** Events replayed per chat before a resync, as Config.ReplayLimit. */
  replayLimit = 1000;
  /** When false, a resume is recorded but not answered until `answerResume`. */
  autoResume = true;

  private readonly chats = new Map<string, ChatData>();
  private nextId = 1;
  private readonly socketWaiters: Array<() => void> = [];
  private clock = Date.parse('2026-12-01T10:00:00Z');

  private constructor(
    private readonly http: http.Server,
    private readonly wss: WebSocketServer,
  ) {}

  static async start(): Promise<FakeServer> {
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    const fake = new FakeServer(server, wss);
    server.on('request', (req, res) => void fake.handle(req, res));
    server.on('upgrade', (req, socket, head) => {
      const user = String(req.headers['x-user'] ?? '');
      wss.handleUpgrade(req, socket, head, (ws) => fake.accept(user, ws));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}/api/v1`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }

  /** Resolves with the n-th socket (counting from 1) once it has resumed. */
  async socket(n: number): Promise<FakeSocket> {
    while (this.sockets.length < n) await new Promise<void>((r) => this.socketWaiters.push(r));
    const s = this.sockets[n - 1]!;
    await s.resumed();
    return s;
  }

  // ---- the model ----

  private now(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  createChat(creator: string, others: string[], kind: 'direct' | 'group' = 'group', title = ''): Chat {
    const id = (this.nextId++).toString(16).padStart(32, '0');
    const at = this.now();
    const members = [...new Set([creator, ...others])].sort().map((u) => ({ user_id: u, last_read_seq: 0 }));
    const data: ChatData = {
      chat: { id, kind, title, members, created_by: creator, created_at: at, last_seq: 0, last_activity_at: at },
      events: [],
      messages: new Map(),
    };
    this.chats.set(id, data);
    const view = this.view(data, creator);
    for (const m of members) this.push(m.user_id, { type: 'chat.created', chat_id: id, chat: { ...view, unread_count: 0 } });
    return view;
  }

  post(chatId: string, sender: string, text: string, clientId = ''): Message {
    const d = this.data(chatId);
    const existing = clientId ? [...d.messages.values()].find((m) => m.sender === sender && m.client_id === clientId) : undefined;
    if (existing) return existing;
    const seq = d.chat.last_seq + 1;
    const m: Message = { chat_id: chatId, seq, sender, text, client_id: clientId, metadata: null, created_at: this.now(), deleted: false };
    d.messages.set(seq, m);
    this.record(d, { type: 'message.created', chat_id: chatId, seq, message: m }, m.created_at);
    return m;
  }

  edit(chatId: string, seq: number, text: string): Message {
    const d = this.data(chatId);
    const m: Message = { ...d.messages.get(seq)!, text, edited_at: this.now() };
    d.messages.set(seq, m);
    this.record(d, { type: 'message.updated', chat_id: chatId, seq: d.chat.last_seq + 1, message: m }, m.edited_at!);
    return m;
  }

  remove(chatId: string, seq: number): Message {
    const d = this.data(chatId);
    const m: Message = { ...d.messages.get(seq)!, text: '', metadata: null, deleted: true };
    d.messages.set(seq, m);
    this.record(d, { type: 'message.deleted', chat_id: chatId, seq: d.chat.last_seq + 1, message: m }, this.now());
    return m;
  }

  markRead(chatId: string, user: string, seq: number): number {
    const d = this.data(chatId);
    const member = d.chat.members.find((m) => m.user_id === user)!;
    const to = Math.min(seq, d.chat.last_seq);
    if (to > member.last_read_seq) {
      member.last_read_seq = to;
      for (const m of d.chat.members) this.push(m.user_id, { type: 'read', chat_id: chatId, user_id: user, read_seq: to });
    }
    return member.last_read_seq;
  }

  removeMember(chatId: string, user: string): void {
    const d = this.data(chatId);
    this.record(d, { type: 'member.removed', chat_id: chatId, seq: d.chat.last_seq + 1, user_id: user }, this.now());
    d.chat.members = d.chat.members.filter((m) => m.user_id !== user);
  }

  setRole(chatId: string, actor: string, user: string, role: Role): void {
    const d = this.data(chatId);
    d.chat.members = d.chat.members.map((m) => (m.user_id === user ? { ...m, role } : m));
    this.record(d, { type: 'member.role', chat_id: chatId, seq: d.chat.last_seq + 1, user_id: user, actor_id: actor, role }, this.now());
  }

  rename(chatId: string, actor: string, title: string): void {
    const d = this.data(chatId);
    d.chat.title = title;
    const info = { title, metadata: null };
    this.record(d, { type: 'chat.updated', chat_id: chatId, seq: d.chat.last_seq + 1, actor_id: actor, info }, this.now());
  }

  /**
   * settings changes user's own settings: the event goes to them whole, to the other members with its seq
   * alone, and moves no activity.
   */
  settings(chatId: string, user: string, settings: MemberSettings): void {
    const d = this.data(chatId);
    d.chat.last_seq++;
    const ev: PersistedEvent = { type: 'member.settings', chat_id: chatId, seq: d.chat.last_seq, user_id: user, settings };
    d.events.push(ev);
    for (const m of d.chat.members) this.push(m.user_id, redactFor(ev, m.user_id));
  }

  /** forgetEverything empties the model, as an in-memory server that restarted. */
  forgetEverything(): void {
    this.chats.clear();
  }

  chatView(chatId: string, user: string): Chat {
    return this.view(this.data(chatId), user);
  }

  private data(chatId: string): ChatData {
    const d = this.chats.get(chatId);
    if (!d) throw new Error('fake: no chat ' + chatId);
    return d;
  }

  private record(d: ChatData, ev: PersistedEvent, at: string): void {
    d.chat.last_seq = ev.seq;
    d.chat.last_activity_at = at;
    d.events.push(ev);
    for (const m of d.chat.members) this.push(m.user_id, ev);
  }

  private view(d: ChatData, user: string): Chat {
    const marker = d.chat.members.find((m) => m.user_id === user)?.last_read_seq ?? 0;
    const msgs = [...d.messages.values()];
    const last = msgs.length ? msgs.reduce((a, b) => (a.seq > b.seq ? a : b)) : null;
    return structuredClone({
      ...d.chat,
      last_message: last,
      member_count: d.chat.members.length,
      unread_count: msgs.filter((m) => m.sender !== user && m.seq > marker && !m.deleted).length,
    });
  }

  private push(user: string, frame: unknown): void {
    for (const s of this.sockets) if (s.user === user && s.resume && !s.closed) s.send(frame);
  }

  // ---- WebSocket ----

  private accept(user: string, ws: WebSocket): void {
    const s = new FakeSocket(user, ws);
    this.sockets.push(s);
    for (const w of this.socketWaiters.splice(0)) w();
    ws.on('close', () => {
      s.closed = true;
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (!s.resume) {
        if (frame.type !== 'resume') return;
        s.resume = frame.positions ?? {};
        if (this.autoResume) this.answerResume(s);
        s.onResume();
        return;
      }
      s.frames.push(frame);
      s.onFrame();
    });
  }

  /** answerResume replays what the socket's resume asked for, then `resumed`. */
  answerResume(s: FakeSocket): void {
    for (const [id, pos] of Object.entries(s.resume ?? {})) {
      const d = this.chats.get(id);
      if (!d || !d.chat.members.some((m) => m.user_id === s.user)) continue;
      const behind = d.events.filter((e) => e.seq > pos);
      if (pos > d.chat.last_seq || behind.length > this.replayLimit) s.send({ type: 'resync', chat_id: id });
      else for (const e of behind) s.send(redactFor(e, s.user));
    }
    s.send({ type: 'resumed' });
  }

  // ---- REST ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url ?? '/', 'http://x');
    const seen: SeenRequest = {
      method: req.method ?? '',
      path: url.pathname.replace(/^\/api\/v1/, '') + url.search,
      user: String(req.headers['x-user'] ?? ''),
      contentType: req.headers['content-type'],
      body: raw && String(req.headers['content-type'] ?? '').startsWith('application/json') ? JSON.parse(raw) : raw || undefined,
    };
    this.requests.push(seen);
    let out = (await this.intercept?.(seen)) ?? undefined;
    if (!out) {
      try {
        out = this.route(seen, url);
      } catch (err) {
        out = { status: 404, body: { error: { code: 'not_found', message: String(err) } } };
      }
    }
    if (out.status === 0) {
      // Hang up without an answer: what fetch reports as a network error.
      req.socket.destroy();
      return;
    }
    res.writeHead(out.status, { 'Content-Type': 'application/json; charset=utf-8', ...out.headers });
    if (out.raw !== undefined) res.end(out.raw);
    else res.end(out.body === undefined ? '' : JSON.stringify(out.body));
  }

  private route(r: SeenRequest, url: URL): FakeResponse {
    const parts = url.pathname.replace(/^\/api\/v1\/?/, '').split('/');
    const [, chatId, sub, arg] = parts;
    const me = r.user;
    if (parts[0] !== 'chats') return { status: 404, body: { error: { code: 'not_found', message: 'not found' } } };
    if (!chatId) {
      if (r.method === 'POST') {
        const c = this.createChat(me, r.body.members, r.body.kind, r.body.title ?? '');
        return { status: 201, body: c };
      }
      const mine = [...this.chats.values()]
        .filter((d) => d.chat.members.some((m) => m.user_id === me))
        .map((d) => this.view(d, me))
        .sort((a, b) => Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at));
      return { status: 200, body: { chats: mine, next_cursor: '' } };
    }
    const d = this.chats.get(chatId);
    if (!d || !d.chat.members.some((m) => m.user_id === me)) {
      return { status: 404, body: { error: { code: 'not_found', message: 'not found' } } };
    }
    if (!sub) return { status: 200, body: this.view(d, me) };
    if (sub === 'messages' && !arg && r.method === 'POST') {
      const before = d.chat.last_seq;
      const m = this.post(chatId, me, r.body.text, r.body.client_id ?? '');
      return { status: d.chat.last_seq > before ? 201 : 200, body: m };
    }
    if (sub === 'messages' && !arg) {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const beforeSeq = url.searchParams.get('before');
      let msgs = [...d.messages.values()].sort((a, b) => a.seq - b.seq);
      if (beforeSeq !== null) msgs = msgs.filter((m) => m.seq < Number(beforeSeq));
      const page = msgs.slice(-limit);
      return { status: 200, body: { messages: page, has_more: msgs.length > page.length } };
    }
    if (sub === 'messages' && r.method === 'PATCH') return { status: 200, body: this.edit(chatId, Number(arg), r.body.text) };
    if (sub === 'messages' && r.method === 'DELETE') return { status: 200, body: this.remove(chatId, Number(arg)) };
    if (sub === 'read') {
      return { status: 200, body: { chat_id: chatId, user_id: me, read_seq: this.markRead(chatId, me, r.body.seq) } };
    }
    if (sub === 'members' && r.method === 'DELETE') {
      this.removeMember(chatId, decodeURIComponent(arg!));
      return { status: 204 };
    }
    return { status: 405, body: { error: { code: 'method_not_allowed', message: 'method not allowed' } } };
  }
}

/** userSocket returns a WebSocket constructor that signs in as user, as a host's cookie would. */
export function userSocket(user: string): new (url: string) => WebSocket {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { headers: { 'X-User': user } });
    }
  };
}

/** redactFor is ev as user receives it: another member's settings change has its seq alone. */
function redactFor(ev: PersistedEvent, user: string): PersistedEvent {
  if (ev.type !== 'member.settings' || ev.user_id === user) return ev;
  return { type: 'member.settings', chat_id: ev.chat_id, seq: ev.seq };
}
