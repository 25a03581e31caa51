import { closePolicy } from './backoff.js';
import { ChatError } from './errors.js';
import { browserStorage, loadPositions, savePositions, type PositionStorage, type Positions } from './storage.js';
import {
  persistedTypes,
  type Attachment,
  type Ban,
  type Block,
  type Chat,
  type ChatEvent,
  type ChatPage,
  type CreateChatRequest,
  type ListChatsOptions,
  type ListMembersOptions,
  type ListMessagesOptions,
  type Member,
  type MemberPage,
  type PresencePage,
  type MemberSettings,
  type Message,
  type MessagePage,
  type PersistedEvent,
  type ReadMarker,
  type Role,
  type SearchOptions,
  type SearchPage,
  type SendMessageRequest,
  type SettingsRequest,
  type UpdateChatRequest,
} from './types.js';

/** The part of the WebSocket API the client uses; browsers' and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** A WebSocket constructor: the browser's `WebSocket`, or `ws` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * `disconnected`: no connection and none planned (before `connect()`, after
 * `disconnect()`), or waiting to reconnect (then `retryAt` is set).
 * `connecting`: a socket is opening or replaying what was missed.
 * `connected`: the replay is over (`resumed`) and events are live.
 */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected';

/** What a UI needs to show the connection. */
export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** Reconnect attempts since the last successful resume. */
  readonly attempt: number;
  /** When the next attempt starts (ms since the epoch), while waiting to reconnect; else null. */
  readonly retryAt: number | null;
  /** The wait before that attempt, in ms, as chosen when the connection closed; else null. */
  readonly retryDelay: number | null;
  /** How the latest connection ended, if one did. */
  readonly lastClose: { readonly code: number; readonly reason: string } | null;
}

export interface ChatClientOptions {
  /** Where the REST API is mounted, such as `/api/v1` (absolute in Node). */
  baseUrl: string;
  /** The WebSocket endpoint; default `baseUrl + "/ws"`. Relative URLs resolve against the page. */
  wsUrl?: string;
  /** The signed-in user, as the host's authentication knows them. */
  userId: string;
  /** Headers for every REST request (the host's auth token, say); a function is called per request. */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** fetch's credentials mode; default `same-origin`. */
  credentials?: RequestCredentials;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Default: the global WebSocket (browsers, Node 22+). In Node 20 pass `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Where positions persist; default localStorage in browsers, memory elsewhere. */
  storage?: PositionStorage;
  /** The storage key; default `embedchat:positions:<userId>`. */
  storageKey?: string;
  /** Backoff bounds in ms; defaults 500 and 20000. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /** Send at most one typing frame per chat in this many ms; default 3000. */
  typingInterval?: number;
  /** Abort REST requests after this many ms; default 15000. */
  requestTimeout?: number;
  /** How often a failed send is retried before it counts as failed; default 3. */
  sendRetries?: number;
  /** Called before each WebSocket is opened, such as to refresh a session cookie. */
  beforeConnect?: () => void | Promise<void>;
  /** A source of randomness in [0, 1), for jitter and client ids; default Math.random. */
  random?: () => number;
}

/** What ChatClient.on can listen to. */
export interface ChatClientEvents {
  /** A live or replayed event, once and, per chat, in seq order. */
  event: ChatEvent;
  /** The connection status changed. */
  status: ConnectionStatus;
  /** A (re)connection finished its replay: list chats again, the protocol's guidance says. */
  resumed: void;
  /** The server cannot replay this chat (or the client saw a gap): refetch it. */
  resync: string;
  /** An `error` frame, or the server refusing the client's frames. */
  error: { code: string; message: string };
}

type Listener<T> = (value: T) => void;

const OPEN = 1;

/**
 * ChatClient speaks the chat protocol: REST calls, and one WebSocket that
 * resumes from the positions it keeps, reconnects with backoff and jitter,
 * and delivers each persisted event once and in order per chat.
 *
 * Positions (the last seq of each chat) persist in `storage`, so a page
 * that reloads resumes where it was. The client moves a chat's position
 * with every event it delivers; code that loads a chat over REST without
 * its messages (a chat list) moves it with `advance`.
 */
export class ChatClient {
  readonly userId: string;
  private readonly opts: Required<
    Pick<
      ChatClientOptions,
      'minReconnectDelay' | 'maxReconnectDelay' | 'typingInterval' | 'requestTimeout' | 'sendRetries' | 'random'
    >
  >;
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly storage: PositionStorage;
  private readonly storageKey: string;
  private readonly positions = new Map<string, number>();
  private saveQueued = false;
  private readonly listeners = new Map<keyof ChatClientEvents, Set<Listener<any>>>();
  private readonly typingSent = new Map<string, number>();

  private ws: WebSocketLike | null = null;
  private wanted = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private statusValue: ConnectionStatus = { state: 'disconnected', attempt: 0, retryAt: null, retryDelay: null, lastClose: null };

  constructor(private readonly options: ChatClientOptions) {
    if (!options.userId) throw new Error('embedchat: userId is required');
    this.userId = options.userId;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    if (!f) throw new Error('embedchat: no fetch; pass one in the options');
    this.fetchFn = f.bind(globalThis);
    this.storage = options.storage ?? browserStorage();
    this.storageKey = options.storageKey ?? `embedchat:positions:${options.userId}`;
    this.opts = {
      minReconnectDelay: options.minReconnectDelay ?? 500,
      maxReconnectDelay: options.maxReconnectDelay ?? 20000,
      typingInterval: options.typingInterval ?? 3000,
      requestTimeout: options.requestTimeout ?? 15000,
      sendRetries: options.sendRetries ?? 3,
      random: options.random ?? Math.random,
    };
    for (const [id, seq] of Object.entries(loadPositions(this.storage, this.storageKey))) {
      this.positions.set(id, seq);
    }
  }

  // ---- events ----

  /** on adds a listener and returns the function that removes it. */
  on<K extends keyof ChatClientEvents>(type: K, listener: Listener<ChatClientEvents[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  private emit<K extends keyof ChatClientEvents>(type: K, value: ChatClientEvents[K]): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) {
      try {
        l(value);
      } catch (err) {
        // A listener's bug must not stop the others or the connection.
        console.error('embedchat: listener failed', err);
      }
    }
  }

  // ---- positions ----

  /** The last seq held of each chat: what the next resume asks to continue from. */
  getPositions(): Positions {
    return Object.fromEntries(this.positions);
  }

  /** The last seq held of a chat, or undefined if the client has none. */
  position(chatId: string): number | undefined {
    return this.positions.get(chatId);
  }

  /**
   * advance moves a chat's position forward to seq (never back). Call it
   * for chats whose state you hold up to seq without their events, such
   * as a chat list entry; not past messages you do not hold.
   */
  advance(chatId: string, seq: number): void {
    const cur = this.positions.get(chatId);
    if (cur !== undefined && cur >= seq) return;
    this.positions.set(chatId, seq);
    this.queueSave();
  }

  /** forget drops a chat's position: the chat is gone or no longer of interest. */
  forget(chatId: string): void {
    if (this.positions.delete(chatId)) this.queueSave();
  }

  private queueSave(): void {
    if (this.saveQueued) return;
    this.saveQueued = true;
    queueMicrotask(() => {
      this.saveQueued = false;
      savePositions(this.storage, this.storageKey, this.getPositions());
    });
  }

  // ---- connection ----

  /** The connection's status now. */
  get status(): ConnectionStatus {
    return this.statusValue;
  }

  private setStatus(patch: Partial<ConnectionStatus>): void {
    this.statusValue = { ...this.statusValue, ...patch };
    this.emit('status', this.statusValue);
  }

  /** connect opens the live connection and keeps it open until disconnect. */
  connect(): void {
    if (this.wanted) return;
    if (!this.wsConstructor()) throw new Error('embedchat: no WebSocket; pass one in the options (the ws package in Node 20)');
    this.wanted = true;
    void this.open();
  }

  /** disconnect closes the live connection and stops reconnecting. */
  disconnect(): void {
    this.wanted = false;
    this.clearTimer();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, 'client closed');
    }
    this.setStatus({ state: 'disconnected', retryAt: null, retryDelay: null, attempt: 0 });
  }

  /** reconnectNow skips the wait before the next attempt (say, when the browser comes back online). */
  reconnectNow(): void {
    if (!this.wanted || this.ws) return;
    this.clearTimer();
    void this.open();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private wsConstructor(): WebSocketConstructor | undefined {
    return this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  }

  private wsUrl(): string {
    const raw = this.options.wsUrl ?? this.baseUrl + '/ws';
    const loc = (globalThis as { location?: { href: string } }).location;
    const url = new URL(raw, loc ? loc.href : undefined);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    return url.toString();
  }

  private async open(): Promise<void> {
    this.setStatus({ state: 'connecting', retryAt: null, retryDelay: null });
    try {
      await this.options.beforeConnect?.();
    } catch {
      // The host's hook failed; try the socket anyway, it will tell.
    }
    if (!this.wanted || this.ws) return;
    let ws: WebSocketLike;
    try {
      ws = new (this.wsConstructor()!)(this.wsUrl());
    } catch {
      this.closed(1006, '');
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      // The first frame must be resume, with the last seq held per chat.
      ws.send(JSON.stringify({ type: 'resume', positions: this.getPositions() }));
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws || typeof e.data !== 'string') return;
      let frame: unknown;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame && typeof frame === 'object') this.handleFrame(frame as Record<string, unknown>);
    };
    ws.onerror = () => {
      // A close follows every error; it carries the code.
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(e.code, e.reason);
    };
  }

  private closed(code: number, reason: string): void {
    const policy = closePolicy(code);
    if (policy.clientFault) this.emit('error', { code: String(code), message: policy.reason });
    if (!this.wanted) return;
    const o = this.opts;
    const delay = policy.delay(this.statusValue.attempt, o.minReconnectDelay, o.maxReconnectDelay, o.random);
    this.setStatus({
      state: 'disconnected',
      attempt: this.statusValue.attempt + 1,
      retryAt: Date.now() + delay,
      retryDelay: delay,
      lastClose: { code, reason: reason || policy.reason },
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, delay);
  }

  private handleFrame(f: Record<string, unknown>): void {
    const type = f['type'];
    const chatId = typeof f['chat_id'] === 'string' ? f['chat_id'] : '';
    if (typeof type !== 'string') return;
    if (persistedTypes.has(type)) {
      this.deliverPersisted(f as unknown as PersistedEvent);
      return;
    }
    switch (type) {
      case 'resumed':
        this.setStatus({ state: 'connected', attempt: 0, retryAt: null, retryDelay: null });
        this.emit('resumed', undefined);
        return;
      case 'resync':
        if (chatId) this.resync(chatId);
        return;
      case 'error':
        this.emit('error', { code: String(f['code'] ?? ''), message: String(f['message'] ?? '') });
        return;
      case 'chat.created':
      case 'read':
      case 'typing':
      case 'presence':
        if (chatId) this.emit('event', f as unknown as ChatEvent);
        return;
      default:
        // A type this client does not know yet: the protocol only adds.
        return;
    }
  }

  // deliverPersisted passes on an event the client has not delivered
  // before. A resume replays from the position, so seqs continue without a
  // gap; a gap means events went missing, and the chat is refetched.
  private deliverPersisted(ev: PersistedEvent): void {
    if (typeof ev.seq !== 'number' || !ev.chat_id) return;
    const pos = this.positions.get(ev.chat_id);
    if (pos !== undefined && ev.seq <= pos) return;
    if (pos !== undefined && ev.seq > pos + 1) {
      this.resync(ev.chat_id);
      return;
    }
    if (ev.type === 'member.removed' && ev.user_id === this.userId) {
      // The last event of this chat the connection gets.
      this.forget(ev.chat_id);
    } else {
      this.positions.set(ev.chat_id, ev.seq);
      this.queueSave();
    }
    this.emit('event', ev);
  }

  // resync drops the chat's position: live events continue from the
  // server's latest seq, and what lies between is for REST to refetch.
  private resync(chatId: string): void {
    this.forget(chatId);
    this.emit('resync', chatId);
  }

  /**
   * typing tells the other members that the user is typing in a chat. Call
   * it on every keystroke: at most one frame per `typingInterval` is sent.
   */
  typing(chatId: string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.statusValue.state !== 'connected') return;
    const now = Date.now();
    const last = this.typingSent.get(chatId);
    if (last !== undefined && now - last < this.opts.typingInterval) return;
    this.typingSent.set(chatId, now);
    ws.send(JSON.stringify({ type: 'typing', chat_id: chatId }));
  }

  // ---- REST ----

  /**
   * request sends one REST call. Bodies are always JSON with
   * `Content-Type: application/json`; errors are ChatErrors.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (body === undefined) return this.send(method, path, undefined, undefined, (r) => r.text()).then(decodeJSON<T>);
    return this.send(method, path, JSON.stringify(body), 'application/json', (r) => r.text()).then(decodeJSON<T>);
  }

  /**
   * send makes one REST call with a body of the given type and reads a
   * successful answer with read; errors are ChatErrors.
   */
  private async send<R>(method: string, path: string, body: BodyInit | undefined, contentType: string | undefined, read: (r: Response) => Promise<R>): Promise<R> {
    const h = this.options.headers;
    const headers: Record<string, string> = { Accept: 'application/json', ...(typeof h === 'function' ? h() : h) };
    const init: RequestInit = { method, headers, credentials: this.options.credentials ?? 'same-origin' };
    if (body !== undefined && contentType !== undefined) {
      headers['Content-Type'] = contentType;
      init.body = body;
    }
    const abort = new AbortController();
    init.signal = abort.signal;
    const timer = setTimeout(() => abort.abort(), this.opts.requestTimeout);
    let resp: Response;
    let text = '';
    let result: R | undefined;
    try {
      resp = await this.fetchFn(this.baseUrl + path, init);
      if (resp.ok) result = await read(resp);
      else text = await resp.text();
    } catch (err) {
      throw new ChatError(0, 'network', err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
    if (resp.ok) return result as R;
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    const e = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const retry = Number(resp.headers.get('Retry-After'));
    throw new ChatError(
      resp.status,
      typeof e?.code === 'string' ? e.code : 'http_' + resp.status,
      typeof e?.message === 'string' ? e.message : resp.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }

  /**
   * uploadAttachment uploads a file (a browser File, or any Blob) to a
   * chat, streamed as the request body, and returns its record. Send it
   * with `sendMessage(chatId, { text, attachments: [attachment.id] })`
   * before the server's time to live (an hour by default) runs out. The
   * server decides the type from the bytes; a type it does not accept is a
   * ChatError `unsupported_media_type`, a file over its limit
   * `payload_too_large`, a server without attachments `not_implemented`.
   */
  uploadAttachment(chatId: string, file: Blob, name?: string): Promise<Attachment> {
    const fileName = name ?? (file as { name?: unknown }).name;
    const path = chatPath(chatId) + '/attachments' + query({ name: typeof fileName === 'string' ? fileName : undefined });
    return this.send('POST', path, file, 'application/octet-stream', (r) => r.json() as Promise<Attachment>);
  }

  /**
   * attachmentUrl is where an attachment downloads from. Use it as an
   * `<img src>` or link when the host authenticates with a cookie; with
   * header authentication, use downloadAttachment.
   */
  attachmentUrl(chatId: string, attachmentId: string): string {
    return this.baseUrl + chatPath(chatId) + '/attachments/' + encodeURIComponent(attachmentId);
  }

  /** downloadAttachment fetches an attachment's bytes, with the client's headers. */
  downloadAttachment(chatId: string, attachmentId: string): Promise<Blob> {
    return this.send('GET', chatPath(chatId) + '/attachments/' + encodeURIComponent(attachmentId), undefined, undefined, (r) => r.blob());
  }

  /** listChats returns a page of the user's chats, most recent activity first. */
  listChats(opts: ListChatsOptions = {}): Promise<ChatPage> {
    return this.request('GET', '/chats' + query({ limit: opts.limit, cursor: opts.cursor, archived: opts.archived }));
  }

  /** getChat returns a chat; a ChatError with code `not_found` if it is gone or the user is not in it. */
  getChat(chatId: string): Promise<Chat> {
    return this.request('GET', chatPath(chatId));
  }

  /** createChat creates a group, or a direct chat (or returns the existing one). */
  createChat(req: CreateChatRequest): Promise<Chat> {
    return this.request('POST', '/chats', req);
  }

  /** listMessages returns the newest messages, or those `before` or `after` a seq. */
  listMessages(chatId: string, opts: ListMessagesOptions = {}): Promise<MessagePage> {
    return this.request('GET', chatPath(chatId) + '/messages' + query({ ...opts }));
  }

  /**
   * sendMessage stores a message. It gives the message a client_id if it
   * has none and retries transient failures (no answer, 5xx, 429) with it,
   * so a retry of a send that got through is not stored twice.
   */
  async sendMessage(chatId: string, req: SendMessageRequest): Promise<Message> {
    const body = { ...req, client_id: req.client_id || this.newClientId() };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request<Message>('POST', chatPath(chatId) + '/messages', body);
      } catch (err) {
        if (!(err instanceof ChatError) || !err.transient || attempt >= this.opts.sendRetries) throw err;
        const wait = err.retryAfter !== undefined ? err.retryAfter * 1000 : this.opts.minReconnectDelay * 2 ** attempt;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** editMessage replaces the text of one of the user's messages. */
  editMessage(chatId: string, seq: number, text: string): Promise<Message> {
    return this.request('PATCH', `${chatPath(chatId)}/messages/${seq}`, { text });
  }

  /** deleteMessage turns one of the user's messages into a tombstone. */
  deleteMessage(chatId: string, seq: number): Promise<Message> {
    return this.request('DELETE', `${chatPath(chatId)}/messages/${seq}`);
  }

  /**
   * react adds the user's reaction to a message (idempotent) and returns
   * the message with its reaction counts.
   */
  react(chatId: string, seq: number, emoji: string): Promise<Message> {
    return this.request('PUT', `${chatPath(chatId)}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`);
  }

  /** unreact takes the user's reaction back (idempotent) and returns the message. */
  unreact(chatId: string, seq: number, emoji: string): Promise<Message> {
    return this.request('DELETE', `${chatPath(chatId)}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`);
  }

  /** listReplies returns a page of the thread of message seq, as listMessages pages the chat. */
  listReplies(chatId: string, seq: number, opts: ListMessagesOptions = {}): Promise<MessagePage> {
    return this.request('GET', `${chatPath(chatId)}/messages/${seq}/replies` + query({ ...opts }));
  }

  /** markRead moves the user's read marker forward to seq; the answer is the marker after the call. */
  markRead(chatId: string, seq: number): Promise<ReadMarker> {
    return this.request('POST', chatPath(chatId) + '/read', { seq });
  }

  /**
   * listMembers pages a chat's members by user_id. Chat objects carry only
   * the first ones (see `member_count`); this gives the rest.
   */
  listMembers(chatId: string, opts: ListMembersOptions = {}): Promise<MemberPage> {
    return this.request('GET', chatPath(chatId) + '/members' + query({ ...opts }));
  }

  /**
   * listPresence pages who of a chat's members is online, by user_id, as
   * listMembers pages them. A server without presence answers
   * `not_implemented`. Changes arrive as `presence` events.
   */
  listPresence(chatId: string, opts: ListMembersOptions = {}): Promise<PresencePage> {
    return this.request('GET', chatPath(chatId) + '/presence' + query({ ...opts }));
  }

  /** addMember adds a user to a group and returns the chat. */
  addMember(chatId: string, userId: string): Promise<Chat> {
    return this.request('POST', chatPath(chatId) + '/members', { user_id: userId });
  }

  /** removeMember removes a user from a group; the user's own id leaves it. */
  async removeMember(chatId: string, userId: string): Promise<void> {
    await this.request<null>('DELETE', `${chatPath(chatId)}/members/${encodeURIComponent(userId)}`);
  }

  /** setRole changes a member's role in a group (owners only; anyone may lower their own). */
  setRole(chatId: string, userId: string, role: Role): Promise<Member> {
    return this.request('PATCH', `${chatPath(chatId)}/members/${encodeURIComponent(userId)}`, { role });
  }

  /** updateChat renames a group or changes its metadata (owners and admins). */
  updateChat(chatId: string, req: UpdateChatRequest): Promise<Chat> {
    return this.request('PATCH', chatPath(chatId), req);
  }

  /** ban removes a user from a group, if a member, and keeps them from being added back. */
  async ban(chatId: string, userId: string): Promise<void> {
    await this.request<null>('POST', chatPath(chatId) + '/bans', { user_id: userId });
  }

  /** unban lifts a user's ban from a group. */
  async unban(chatId: string, userId: string): Promise<void> {
    await this.request<null>('DELETE', `${chatPath(chatId)}/bans/${encodeURIComponent(userId)}`);
  }

  /** listBans returns the users banned from a group (owners and admins). */
  async listBans(chatId: string): Promise<Ban[]> {
    return (await this.request<{ bans: Ban[] }>('GET', chatPath(chatId) + '/bans')).bans;
  }

  /** updateSettings changes the user's own settings of a chat; their other devices get member.settings. */
  updateSettings(chatId: string, req: SettingsRequest): Promise<MemberSettings> {
    return this.request('PATCH', chatPath(chatId) + '/settings', req);
  }

  /** block blocks a user: no direct messages either way until unblock. */
  async block(userId: string): Promise<void> {
    await this.request<null>('POST', '/blocks', { user_id: userId });
  }

  /** unblock lifts the user's block of another. */
  async unblock(userId: string): Promise<void> {
    await this.request<null>('DELETE', '/blocks/' + encodeURIComponent(userId));
  }

  /** listBlocks returns the users the user blocks. */
  async listBlocks(): Promise<Block[]> {
    return (await this.request<{ blocks: Block[] }>('GET', '/blocks')).blocks;
  }

  /**
   * search finds the messages of the caller's chats (or of `opts.chatId`)
   * that have every word of `q` at the start of one of their words,
   * newest first; page with `next_cursor`. A server whose Store cannot
   * search fails it with a ChatError of code `not_implemented` (501).
   */
  search(q: string, opts: SearchOptions = {}): Promise<SearchPage> {
    return this.request('GET', '/search' + query({ q, chat_id: opts.chatId, limit: opts.limit, cursor: opts.cursor }));
  }

  /** newClientId returns a random UUID for a message's client_id. */
  newClientId(): string {
    const c = (globalThis as { crypto?: Crypto }).crypto;
    // randomUUID exists only in secure contexts (https, localhost).
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    const b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(this.opts.random() * 256);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

// detach silences a socket the client is done with. The handlers become
// no-ops rather than null: Node's ws throws an 'error' nobody listens to.
function detach(ws: WebSocketLike): void {
  const noop = () => {};
  ws.onopen = noop;
  ws.onmessage = noop;
  ws.onclose = noop;
  ws.onerror = noop;
}

// decodeJSON reads a REST answer's body: JSON, or nothing (204).
function decodeJSON<T>(text: string): T {
  if (!text) return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null as T;
  }
}

function chatPath(chatId: string): string {
  return '/chats/' + encodeURIComponent(chatId);
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
