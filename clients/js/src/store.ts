import type { ChatClient, ConnectionStatus } from './client.js';
import { ChatError } from './errors.js';
import type {
  Chat,
  ChatEvent,
  CreateChatRequest,
  Message,
  PersistedEvent,
  Presence,
  ReactionEvent,
  Role,
  SendMessageRequest,
  SettingsRequest,
  UpdateChatRequest,
} from './types.js';

/** A message the user sent that the server has not confirmed. */
export interface PendingMessage {
  readonly chat_id: string;
  readonly client_id: string;
  readonly text: string;
  readonly metadata: Record<string, unknown> | null;
  /** Ids of the uploads it sends (see `sendFiles`); empty for text alone. */
  readonly attachments: readonly string[];
  /** When the user sent it (ISO 8601). */
  readonly created_at: string;
  /** `pending` while it is being sent (and retried); `failed` when it gave up: call `retry` or `discard`. */
  readonly status: 'pending' | 'failed';
  /** Why it failed; see describeError. */
  readonly error: ChatError | null;
  /** The seq of the message it replies to, if any. */
  readonly reply_to?: number;
  /** The members it mentions, if any. */
  readonly mentions?: readonly string[];
}

/** What a send may carry besides its text and metadata. */
export interface SendOptions {
  /** The seq of a message of the same chat to reply to. */
  replyTo?: number;
  /** Ids of attachments uploaded to the chat and not sent yet (see `sendFiles`). */
  attachments?: readonly string[];
  /** User ids of members to mention. */
  mentions?: string[];
}

/** An open chat: its messages and what is happening in it. */
export interface Room {
  readonly id: string;
  /** The newest page is being loaded. */
  readonly loading: boolean;
  /** Loading failed; `openChat` tries again. */
  readonly error: ChatError | null;
  /** In ascending seq order, edits and deletes applied; deleted ones are tombstones. */
  readonly messages: readonly Message[];
  /** The user's unconfirmed sends, oldest first. */
  readonly pending: readonly PendingMessage[];
  /** Older messages exist: `loadOlder` fetches them. */
  readonly hasOlder: boolean;
  readonly loadingOlder: boolean;
  /** Other members typing now. */
  readonly typing: readonly string[];
}

/** Chats the client knew that the server no longer has for the user. */
export interface LostChats {
  readonly chats: readonly Chat[];
  /**
   * Every chat the client knew is gone, or the server's history is behind
   * what the client saw: the server most likely lost its data (say, an
   * in-memory server restarted). Otherwise the user was removed while away.
   */
  readonly serverReset: boolean;
}

/** One immutable snapshot of the store. */
export interface ChatStoreState {
  readonly userId: string;
  readonly connection: ConnectionStatus;
  /** The user's chats, most recent activity first. */
  readonly chats: readonly Chat[];
  /** The first page of chats has arrived. */
  readonly chatsLoaded: boolean;
  /** Listing chats failed. */
  readonly chatsError: ChatError | null;
  /** More chats than listed exist: `loadMoreChats` fetches them. */
  readonly hasMoreChats: boolean;
  /** The chats opened with `openChat`, by id. */
  readonly rooms: Readonly<Record<string, Room>>;
  /** Set when chats vanished; cleared by `dismissLost`. */
  readonly lost: LostChats | null;
  /**
   * Who is online, by user id: the members of the open chats (read when a
   * chat opens and after each reconnect) and everyone a `presence` event
   * named. Empty when the server has no presence.
   */
  readonly presence: Readonly<Record<string, Presence>>;
}

export interface ChatStoreOptions {
  /** Chats per page of the chat list; default 50. */
  chatPageSize?: number;
  /** Messages per page; default 50. */
  messagePageSize?: number;
  /** How long a typing notice shows, in ms; default 4000. */
  typingTimeout?: number;
}

interface RoomData {
  msgs: Map<number, Message>;
  // Edits and deletes that arrive while the first page loads, of messages
  // not held yet: the page may predate them.
  updates: Map<number, Message>;
  loading: boolean;
  error: ChatError | null;
  hasOlder: boolean;
  loadingOlder: boolean;
  snapshot: Room | null;
}

/**
 * ChatStore keeps the state a chat UI shows, current with the live
 * connection of a ChatClient: the chat list with unread counts and last
 * messages, each open chat's messages with edits and deletes applied,
 * members and their read markers, typing, and the user's pending sends.
 *
 * It follows React's useSyncExternalStore contract, and so suits any
 * framework: `subscribe(listener)` returns the function that unsubscribes,
 * and `getSnapshot()` returns an immutable ChatStoreState whose identity
 * changes only when something in it changed. Unchanged chats, messages and
 * rooms keep their identity too.
 */
export class ChatStore {
  private readonly me: string;
  private readonly chatPageSize: number;
  private readonly messagePageSize: number;
  private readonly typingTimeout: number;

  private readonly chats = new Map<string, Chat>();
  private chatList: readonly Chat[] | null = null;
  private cursor = '';
  private chatsLoaded = false;
  private chatsError: ChatError | null = null;
  private readonly rooms = new Map<string, RoomData>();
  private roomsSnapshot: Readonly<Record<string, Room>> | null = null;
  private readonly pending = new Map<string, Map<string, PendingMessage>>();
  private readonly typing = new Map<string, Map<string, ReturnType<typeof setTimeout>>>();
  private readonly fetching = new Map<string, PersistedEvent[]>();
  // Events of chats the store does not know, held until the first chat
  // list arrives: it will know most of them, and the rest are fetched.
  private early: PersistedEvent[] | null = [];
  private readonly marking = new Set<string>();
  private lost: LostChats | null = null;
  private connection: ConnectionStatus;
  private readonly presence = new Map<string, Presence>();
  private presenceSnapshot: Readonly<Record<string, Presence>> | null = null;
  // False once the server said it has no presence.
  private presenceAvailable = true;

  private snapshot: ChatStoreState | null = null;
  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;
  private readonly unsubscribers: Array<() => void> = [];
  private started = false;

  constructor(
    readonly client: ChatClient,
    options: ChatStoreOptions = {},
  ) {
    this.me = client.userId;
    this.chatPageSize = options.chatPageSize ?? 50;
    this.messagePageSize = options.messagePageSize ?? 50;
    this.typingTimeout = options.typingTimeout ?? 4000;
    this.connection = client.status;
  }

  // ---- the useSyncExternalStore contract ----

  /** subscribe calls listener after every change and returns the function that stops it. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** getSnapshot returns the current state; the same object until something changes. */
  getSnapshot = (): ChatStoreState => {
    if (!this.snapshot) {
      this.snapshot = Object.freeze({
        userId: this.me,
        connection: this.connection,
        chats: this.sortedChats(),
        chatsLoaded: this.chatsLoaded,
        chatsError: this.chatsError,
        hasMoreChats: this.cursor !== '',
        rooms: this.roomSnapshots(),
        lost: this.lost,
        presence: this.presenceSnapshots(),
      });
    }
    return this.snapshot;
  };

  private changed(room?: string): void {
    this.snapshot = null;
    if (room !== undefined) {
      const r = this.rooms.get(room);
      if (r) r.snapshot = null;
      this.roomsSnapshot = null;
    }
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    // One notification for a burst of changes (a replay brings hundreds).
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const l of [...this.listeners]) l();
    });
  }

  private chatsChanged(): void {
    this.chatList = null;
    this.changed();
  }

  private sortedChats(): readonly Chat[] {
    if (!this.chatList) {
      this.chatList = Object.freeze(
        [...this.chats.values()].sort(
          (a, b) =>
            Number(b.settings?.pinned ?? false) - Number(a.settings?.pinned ?? false) ||
            Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at) ||
            (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        ),
      );
    }
    return this.chatList;
  }

  private presenceSnapshots(): Readonly<Record<string, Presence>> {
    if (!this.presenceSnapshot) this.presenceSnapshot = Object.freeze(Object.fromEntries(this.presence));
    return this.presenceSnapshot;
  }

  private roomSnapshots(): Readonly<Record<string, Room>> {
    if (!this.roomsSnapshot) {
      const out: Record<string, Room> = {};
      for (const [id, r] of this.rooms) out[id] = this.roomSnapshot(id, r);
      this.roomsSnapshot = Object.freeze(out);
    }
    return this.roomsSnapshot;
  }

  private roomSnapshot(id: string, r: RoomData): Room {
    if (!r.snapshot) {
      r.snapshot = Object.freeze({
        id,
        loading: r.loading,
        error: r.error,
        messages: Object.freeze([...r.msgs.values()].sort((a, b) => a.seq - b.seq)),
        pending: Object.freeze([...(this.pending.get(id)?.values() ?? [])]),
        hasOlder: r.hasOlder,
        loadingOlder: r.loadingOlder,
        typing: Object.freeze([...(this.typing.get(id)?.keys() ?? [])]),
      });
    }
    return r.snapshot;
  }

  // ---- life cycle ----

  /** start lists chats and connects; the store is live until `stop`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const c = this.client;
    this.unsubscribers.push(
      c.on('event', (ev) => this.onEvent(ev)),
      c.on('resync', (id) => void this.onResync(id)),
      c.on('resumed', () => {
        void this.refreshChats();
        // Presence events are changes: what changed while away is read.
        for (const id of this.rooms.keys()) void this.loadPresence(id);
      }),
      c.on('status', (s) => {
        this.connection = s;
        this.changed();
      }),
    );
    void this.refreshChats();
    c.connect();
  }

  /** stop disconnects and drops timers; the snapshot stays readable. */
  stop(): void {
    this.started = false;
    for (const u of this.unsubscribers.splice(0)) u();
    this.client.disconnect();
    for (const typers of this.typing.values()) for (const t of typers.values()) clearTimeout(t);
    this.typing.clear();
  }

  // ---- chat list ----

  /**
   * refreshChats lists the first page of chats again. A first page that is
   * also the last is the whole list: chats the client knew that are not in
   * it are gone, and are dropped and reported in `lost`.
   */
  async refreshChats(): Promise<void> {
    let page;
    try {
      page = await this.client.listChats({ limit: this.chatPageSize });
    } catch (err) {
      this.chatsError = asChatError(err);
      this.changed();
      return;
    }
    const wasLoaded = this.chatsLoaded && this.chatsError === null;
    this.chatsError = null;
    this.chatsLoaded = true;
    for (const c of page.chats) this.mergeChat(c);
    const early = this.early;
    this.early = null;
    for (const ev of early ?? []) this.onPersisted(ev);
    if (page.next_cursor === '') {
      const listed = new Set(page.chats.map((c) => c.id));
      const known = new Set([...this.chats.keys(), ...Object.keys(this.client.getPositions())]);
      const gone = [...known].filter((id) => !listed.has(id) && !this.fetching.has(id));
      if (gone.length > 0) this.reportLost(gone, gone.length === known.size);
    }
    // A refresh restarts paging: later pages follow the first.
    if (!wasLoaded || this.cursor !== page.next_cursor) {
      this.cursor = page.next_cursor;
      this.changed();
    }
  }

  /** loadMoreChats fetches the next page of the chat list. */
  async loadMoreChats(): Promise<void> {
    if (!this.cursor) return;
    try {
      const page = await this.client.listChats({ limit: this.chatPageSize, cursor: this.cursor });
      for (const c of page.chats) this.mergeChat(c);
      this.cursor = page.next_cursor;
    } catch (err) {
      this.chatsError = asChatError(err);
    }
    this.chatsChanged();
  }

  /** dismissLost clears `lost` once the user has seen it. */
  dismissLost(): void {
    this.lost = null;
    this.changed();
  }

  private reportLost(ids: string[], serverReset: boolean): void {
    const chats = ids.map((id) => this.chats.get(id)).filter((c): c is Chat => c !== undefined);
    for (const id of ids) this.dropChat(id);
    const prev = this.lost;
    this.lost = Object.freeze({
      chats: Object.freeze([...(prev?.chats ?? []), ...chats]),
      serverReset: serverReset || (prev?.serverReset ?? false),
    });
    this.chatsChanged();
  }

  // mergeChat takes a chat from a REST answer. Live events may be newer
  // than the answer, so the newer of the two states wins, and read
  // markers only move forward.
  private mergeChat(c: Chat, replace = false): void {
    const old = this.chats.get(c.id);
    let next = c;
    if (old && !replace) {
      const oldIsNewer = old.last_seq > c.last_seq;
      const other = oldIsNewer ? c : old;
      next = oldIsNewer ? { ...c, ...pickActivity(old) } : { ...c };
      next.members = next.members.map((m) => {
        const o = other.members.find((x) => x.user_id === m.user_id);
        return o && o.last_read_seq > m.last_read_seq ? { ...m, last_read_seq: o.last_read_seq } : m;
      });
    }
    // A chat's position follows its summary, unless its messages are held:
    // then only events move it, so that a resume never skips messages the
    // room lacks.
    if (!this.rooms.has(c.id) || replace) this.client.advance(c.id, next.last_seq);
    // An answer that changes nothing keeps the snapshot as it is.
    if (old && JSON.stringify(old) === JSON.stringify(next)) return;
    this.chats.set(c.id, Object.freeze(next));
    this.chatsChanged();
  }

  private dropChat(id: string): void {
    this.chats.delete(id);
    this.client.forget(id);
    this.rooms.delete(id);
    this.pending.delete(id);
    const typers = this.typing.get(id);
    if (typers) for (const t of typers.values()) clearTimeout(t);
    this.typing.delete(id);
    this.roomsSnapshot = null;
    this.chatsChanged();
  }

  // fetchChat loads a chat named by an event the store cannot apply. The
  // events of the chat that arrive meanwhile are kept and applied after.
  private async fetchChat(id: string): Promise<void> {
    if (this.fetching.has(id)) return;
    this.fetching.set(id, []);
    let chat: Chat | null = null;
    let err: ChatError | null = null;
    try {
      chat = await this.client.getChat(id);
    } catch (e) {
      err = asChatError(e);
    }
    const held = this.fetching.get(id) ?? [];
    this.fetching.delete(id);
    if (chat) {
      this.mergeChat(chat);
      for (const ev of held) this.onEvent(ev);
    } else if (err?.code === 'not_found') {
      if (this.chats.has(id)) this.reportLost([id], false);
    }
  }

  // ---- events ----

  private onEvent(ev: ChatEvent): void {
    switch (ev.type) {
      case 'chat.created':
        // Its chat has no unread count or display names: a chat the store
        // knows is better as it is.
        if (!this.chats.has(ev.chat_id)) this.mergeChat(ev.chat);
        return;
      case 'read':
        this.onRead(ev.chat_id, ev.user_id, ev.read_seq);
        return;
      case 'typing':
        this.onTyping(ev.chat_id, ev.user_id);
        return;
      case 'presence':
        this.putPresence([ev.presence]);
        return;
      default:
        this.onPersisted(ev);
    }
  }

  private onPersisted(ev: PersistedEvent): void {
    const id = ev.chat_id;
    if (ev.type === 'member.removed' && ev.user_id === this.me) {
      this.dropChat(id);
      return;
    }
    const held = this.fetching.get(id);
    if (held) {
      held.push(ev);
      return;
    }
    const c = this.chats.get(id);
    if (!c && this.early) {
      this.early.push(ev);
      return;
    }
    if (!c) {
      void this.fetchChat(id).then(() => this.applyToRoom(ev));
      return;
    }
    this.applyToChat(c, ev);
    this.applyToRoom(ev);
  }

  // applyToChat brings a chat's summary up to date with an event, unless
  // it already is: last_seq says which events the summary reflects.
  private applyToChat(c: Chat, ev: PersistedEvent): void {
    if (ev.seq <= c.last_seq) return;
    const next: Chat = { ...c, last_seq: ev.seq };
    switch (ev.type) {
      case 'message.created': {
        const m = ev.message;
        // Counted even if it arrives as a tombstone: its message.deleted follows.
        if (this.countsAsUnread(c, m)) {
          next.unread_count = c.unread_count + 1;
          if (this.mentionsMe(m)) next.unread_mentions = (c.unread_mentions ?? 0) + 1;
        }
        if (!c.last_message || m.seq >= c.last_message.seq) next.last_message = m;
        next.last_activity_at = m.created_at;
        break;
      }
      case 'message.deleted':
      case 'message.updated': {
        const m = ev.message;
        if (ev.type === 'message.deleted' && this.countsAsUnread(c, m)) {
          next.unread_count = Math.max(0, c.unread_count - 1);
          if (this.mentionsMe(m)) next.unread_mentions = Math.max(0, (c.unread_mentions ?? 0) - 1);
        }
        if (c.last_message && c.last_message.seq === m.seq && newer(m, c.last_message)) next.last_message = m;
        next.last_activity_at = m.edited_at ?? new Date().toISOString();
        break;
      }
      case 'member.added':
        if (!c.members.some((x) => x.user_id === ev.user_id)) {
          next.members = [...c.members, { user_id: ev.user_id, last_read_seq: ev.seq }].sort((a, b) =>
            a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0,
          );
        }
        next.last_activity_at = new Date().toISOString();
        break;
      case 'member.removed':
        next.members = c.members.filter((x) => x.user_id !== ev.user_id);
        next.last_activity_at = new Date().toISOString();
        break;
      case 'reaction.added':
      case 'reaction.removed':
        if (c.last_message && c.last_message.seq === ev.reaction.message_seq) {
          next.last_message = withReaction(c.last_message, ev, this.me);
        }
        next.last_activity_at = new Date().toISOString();
        break;
      case 'member.role':
        next.members = c.members.map((x) => (x.user_id === ev.user_id ? { ...x, role: ev.role } : x));
        next.last_activity_at = new Date().toISOString();
        break;
      case 'chat.updated':
        next.title = ev.info.title;
        if (ev.info.metadata) next.metadata = ev.info.metadata;
        else delete next.metadata;
        next.last_activity_at = new Date().toISOString();
        break;
      case 'member.banned':
      case 'member.unbanned':
        next.last_activity_at = new Date().toISOString();
        break;
      case 'member.settings':
        // The user's own, from another device; it moves no chat in the list.
        // Another member's comes without settings: it moves last_seq alone.
        if (ev.user_id === this.me && ev.settings) next.settings = ev.settings;
        break;
    }
    this.chats.set(c.id, Object.freeze(next));
    this.chatsChanged();
  }

  private countsAsUnread(c: Chat, m: Message): boolean {
    return m.sender !== this.me && m.seq > readSeq(c, this.me);
  }

  private mentionsMe(m: Message): boolean {
    return m.mentions?.includes(this.me) ?? false;
  }

  private applyToRoom(ev: PersistedEvent): void {
    if (ev.type === 'reaction.added' || ev.type === 'reaction.removed') {
      const r = this.rooms.get(ev.chat_id);
      const held = r?.msgs.get(ev.reaction.message_seq);
      if (r && held) this.putMessages(ev.chat_id, r, [withReaction(held, ev, this.me)]);
      return;
    }
    if (!('message' in ev)) return;
    const r = this.rooms.get(ev.chat_id);
    // Events carry no `me`, and edits and deletes may leave counters out:
    // keep what the held copy knows.
    const m = keepCounters(ev.message, r?.msgs.get(ev.message.seq), ev.type === 'message.created');
    if (ev.type === 'message.created') {
      if (m.sender === this.me && m.client_id) this.settlePending(ev.chat_id, m.client_id);
      this.clearTyping(ev.chat_id, m.sender);
    }
    if (!r) return;
    const oldest = r.msgs.size ? Math.min(...r.msgs.keys()) : Infinity;
    if (ev.type === 'message.created' || r.msgs.has(m.seq) || m.seq > oldest) {
      this.putMessages(ev.chat_id, r, [m]);
    } else if (r.loading) {
      r.updates.set(m.seq, m);
    }
    const parent = ev.type === 'message.created' && m.reply_to ? r.msgs.get(m.reply_to) : undefined;
    if (parent && m.seq > (parent.last_reply_seq ?? 0)) {
      const counted = { ...parent, reply_count: (parent.reply_count ?? 0) + 1, last_reply_seq: m.seq, last_reply_at: m.created_at };
      this.putMessages(ev.chat_id, r, [counted]);
    }
  }

  private putMessages(id: string, r: RoomData, msgs: readonly Message[]): void {
    let changed = false;
    for (const m of msgs) {
      if (newer(m, r.msgs.get(m.seq))) {
        r.msgs.set(m.seq, Object.freeze(m));
        changed = true;
      }
    }
    if (changed) this.changed(id);
  }

  private onRead(chatId: string, userId: string, readSeq: number): void {
    const c = this.chats.get(chatId);
    const member = c?.members.find((x) => x.user_id === userId);
    if (!c || !member || readSeq <= member.last_read_seq) return;
    const next: Chat = {
      ...c,
      members: c.members.map((x) => (x.user_id === userId ? { ...x, last_read_seq: readSeq } : x)),
    };
    let refetch = false;
    if (userId === this.me) {
      // Read here or on another device: what is left unread only the
      // server can count, unless it is nothing.
      if (readSeq >= c.last_seq) {
        next.unread_count = 0;
        if (c.unread_mentions) next.unread_mentions = 0;
      }
      else refetch = true;
    }
    this.chats.set(chatId, Object.freeze(next));
    this.chatsChanged();
    this.changed(chatId);
    if (refetch) void this.refetchChat(chatId);
  }

  private async refetchChat(id: string): Promise<void> {
    try {
      this.mergeChat(await this.client.getChat(id));
    } catch (err) {
      if (asChatError(err).code === 'not_found' && this.chats.has(id)) this.reportLost([id], false);
    }
  }

  private onTyping(chatId: string, userId: string): void {
    if (userId === this.me) return;
    let typers = this.typing.get(chatId);
    if (!typers) {
      typers = new Map();
      this.typing.set(chatId, typers);
    }
    const prev = typers.get(userId);
    if (prev !== undefined) clearTimeout(prev);
    typers.set(
      userId,
      setTimeout(() => this.clearTyping(chatId, userId), this.typingTimeout),
    );
    if (prev === undefined) this.changed(chatId);
  }

  private clearTyping(chatId: string, userId: string): void {
    const typers = this.typing.get(chatId);
    const t = typers?.get(userId);
    if (t === undefined) return;
    clearTimeout(t);
    typers!.delete(userId);
    this.changed(chatId);
  }

  // onResync refetches a chat the server could not replay, and reloads
  // its room. A chat whose server history is behind what the store saw
  // means the server lost data.
  private async onResync(id: string): Promise<void> {
    const before = this.chats.get(id);
    const r = this.rooms.get(id);
    if (r) this.rooms.delete(id);
    let chat: Chat;
    try {
      chat = await this.client.getChat(id);
    } catch (err) {
      if (asChatError(err).code === 'not_found') {
        if (before) this.reportLost([id], false);
        else this.dropChat(id);
      }
      return;
    }
    if (before && chat.last_seq < before.last_seq) {
      this.lost = Object.freeze({ chats: Object.freeze([...(this.lost?.chats ?? []), before]), serverReset: true });
    }
    this.mergeChat(chat, true);
    if (r) await this.openChat(id);
  }

  // ---- rooms ----

  /**
   * openChat loads a chat's newest messages and keeps them current until
   * `closeChat`. Opening an open chat does nothing, unless its loading failed.
   */
  async openChat(id: string): Promise<void> {
    const existing = this.rooms.get(id);
    if (existing && !existing.error) return;
    // The room exists from the start, so that live events arriving while
    // the page loads are kept: whatever the page misses arrives live.
    const r: RoomData = {
      msgs: new Map(),
      updates: new Map(),
      loading: true,
      error: null,
      hasOlder: false,
      loadingOlder: false,
      snapshot: null,
    };
    this.rooms.set(id, r);
    this.changed(id);
    if (!this.chats.has(id)) void this.fetchChat(id);
    void this.loadPresence(id);
    try {
      const page = await this.client.listMessages(id, { limit: this.messagePageSize });
      if (this.rooms.get(id) !== r) return;
      r.loading = false;
      r.hasOlder = page.has_more;
      this.putMessages(
        id,
        r,
        page.messages.map((m) => {
          const u = r.updates.get(m.seq);
          return u && newer(u, m) ? u : m;
        }),
      );
      r.updates.clear();
    } catch (err) {
      if (this.rooms.get(id) !== r) return;
      const e = asChatError(err);
      if (e.code === 'not_found') {
        if (this.chats.has(id)) this.reportLost([id], false);
        else this.dropChat(id);
        return;
      }
      r.loading = false;
      r.error = e;
    }
    this.changed(id);
  }

  /** closeChat stops keeping a chat's messages. */
  closeChat(id: string): void {
    if (!this.rooms.delete(id)) return;
    this.roomsSnapshot = null;
    this.changed();
  }

  /** loadOlder fetches the page of messages before the oldest held. */
  async loadOlder(id: string): Promise<void> {
    const r = this.rooms.get(id);
    if (!r || r.loading || r.loadingOlder || !r.hasOlder || r.msgs.size === 0) return;
    r.loadingOlder = true;
    this.changed(id);
    try {
      const page = await this.client.listMessages(id, {
        limit: this.messagePageSize,
        before: Math.min(...r.msgs.keys()),
      });
      if (this.rooms.get(id) !== r) return;
      r.hasOlder = page.has_more;
      this.putMessages(id, r, page.messages);
    } catch (err) {
      r.error = asChatError(err);
    } finally {
      r.loadingOlder = false;
      this.changed(id);
    }
  }

  // ---- actions ----

  /** createChat creates a chat (or finds the direct one) and adds it to the list. */
  async createChat(req: CreateChatRequest): Promise<Chat> {
    const c = await this.client.createChat(req);
    this.mergeChat(c);
    return this.chats.get(c.id) ?? c;
  }

  /**
   * send shows a message at once as pending and sends it with a fresh
   * client_id, retrying what may be transient. It ends as a message (when
   * the server confirms it) or as a failed pending message that `retry`
   * sends again with the same client_id, so it is never stored twice.
   * `o.replyTo` makes it a reply, `o.mentions` mentions members.
   */
  send(chatId: string, text: string, metadata: Record<string, unknown> | null = null, o: SendOptions = {}): string {
    const p: PendingMessage = Object.freeze({
      chat_id: chatId,
      client_id: this.client.newClientId(),
      text,
      metadata,
      attachments: Object.freeze([...(o.attachments ?? [])]),
      created_at: new Date().toISOString(),
      status: 'pending',
      error: null,
      ...(o.replyTo ? { reply_to: o.replyTo } : {}),
      ...(o.mentions?.length ? { mentions: Object.freeze([...o.mentions]) } : {}),
    });
    this.setPending(p);
    void this.deliver(p);
    return p.client_id;
  }

  /**
   * sendFiles uploads files to a chat, then sends them in one message with
   * text (which may be empty), as `send` does. It rejects, sending nothing,
   * when an upload fails: a ChatError says why (`unsupported_media_type`,
   * `payload_too_large`, `not_implemented`, ...).
   */
  async sendFiles(chatId: string, files: readonly Blob[], text = ''): Promise<string> {
    const ids: string[] = [];
    for (const f of files) ids.push((await this.client.uploadAttachment(chatId, f)).id);
    return this.send(chatId, text, null, { attachments: ids });
  }

  /** retry sends a failed message again, with its client_id. */
  retry(chatId: string, clientId: string): void {
    const p = this.pending.get(chatId)?.get(clientId);
    if (!p || p.status !== 'failed') return;
    const again = Object.freeze({ ...p, status: 'pending' as const, error: null });
    this.setPending(again);
    void this.deliver(again);
  }

  /** discard drops a failed message. */
  discard(chatId: string, clientId: string): void {
    this.settlePending(chatId, clientId);
  }

  private async deliver(p: PendingMessage): Promise<void> {
    try {
      const req: SendMessageRequest = {
        text: p.text,
        client_id: p.client_id,
        metadata: p.metadata,
        ...(p.reply_to ? { reply_to: p.reply_to } : {}),
        ...(p.mentions ? { mentions: [...p.mentions] } : {}),
      };
      if (p.attachments.length > 0) req.attachments = [...p.attachments];
      const m = await this.client.sendMessage(p.chat_id, req);
      this.settlePending(p.chat_id, p.client_id);
      const r = this.rooms.get(p.chat_id);
      if (r) this.putMessages(p.chat_id, r, [m]);
      const c = this.chats.get(p.chat_id);
      // The list shows the message at once; its event moves last_seq.
      if (c && (!c.last_message || m.seq > c.last_message.seq)) {
        this.chats.set(c.id, Object.freeze({ ...c, last_message: m, last_activity_at: m.created_at }));
        this.chatsChanged();
      }
    } catch (err) {
      // Still pending means neither an event nor a discard settled it.
      if (this.pending.get(p.chat_id)?.get(p.client_id)?.status !== 'pending') return;
      this.setPending(Object.freeze({ ...p, status: 'failed', error: asChatError(err) }));
    }
  }

  private setPending(p: PendingMessage): void {
    let m = this.pending.get(p.chat_id);
    if (!m) {
      m = new Map();
      this.pending.set(p.chat_id, m);
    }
    m.set(p.client_id, p);
    this.changed(p.chat_id);
  }

  private settlePending(chatId: string, clientId: string): void {
    const m = this.pending.get(chatId);
    if (!m?.delete(clientId)) return;
    if (m.size === 0) this.pending.delete(chatId);
    this.changed(chatId);
  }

  /** editMessage changes the text of one of the user's messages. */
  async editMessage(chatId: string, seq: number, text: string): Promise<void> {
    const m = await this.client.editMessage(chatId, seq, text);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }

  /** deleteMessage deletes one of the user's messages; it stays as a tombstone. */
  async deleteMessage(chatId: string, seq: number): Promise<void> {
    const m = await this.client.deleteMessage(chatId, seq);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }

  /** react adds the user's reaction to a message; reacting twice is one reaction. */
  async react(chatId: string, seq: number, emoji: string): Promise<void> {
    const m = await this.client.react(chatId, seq, emoji);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }

  /** unreact takes the user's reaction back. */
  async unreact(chatId: string, seq: number, emoji: string): Promise<void> {
    const m = await this.client.unreact(chatId, seq, emoji);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }

  /** addMember adds a user to a group. */
  async addMember(chatId: string, userId: string): Promise<void> {
    this.mergeChat(await this.client.addMember(chatId, userId));
  }

  /** removeMember removes a user from a group; removing the user leaves it. */
  async removeMember(chatId: string, userId: string): Promise<void> {
    await this.client.removeMember(chatId, userId);
    if (userId === this.me) this.dropChat(chatId);
  }

  /**
   * loadPresence reads who of a chat's members is online. openChat calls
   * it, and so does every reconnect for the open chats; `presence` events
   * keep it current in between. A server without presence answers
   * `not_implemented` once, and the store stops asking.
   */
  async loadPresence(chatId: string): Promise<void> {
    let after = '';
    while (this.presenceAvailable) {
      let page;
      try {
        page = await this.client.listPresence(chatId, { after, limit: 200 });
      } catch (err) {
        if (asChatError(err).code === 'not_implemented') this.presenceAvailable = false;
        return;
      }
      this.putPresence(page.presence);
      const last = page.presence[page.presence.length - 1];
      if (!page.has_more || !last) return;
      after = last.user_id;
    }
  }

  private putPresence(ps: readonly Presence[]): void {
    let changed = false;
    for (const p of ps) {
      const old = this.presence.get(p.user_id);
      if (old && old.online === p.online && old.last_seen_at === p.last_seen_at) continue;
      this.presence.set(p.user_id, Object.freeze({ ...p }));
      changed = true;
    }
    if (!changed) return;
    this.presenceSnapshot = null;
    this.changed();
  }

  /** setRole changes a member's role; the member.role event updates the chat. */
  async setRole(chatId: string, userId: string, role: Role): Promise<void> {
    await this.client.setRole(chatId, userId, role);
  }

  /** ban removes a user from a group and keeps them out until unbanned. */
  async ban(chatId: string, userId: string): Promise<void> {
    await this.client.ban(chatId, userId);
  }

  /** updateChat renames a group or changes its metadata. */
  async updateChat(chatId: string, req: UpdateChatRequest): Promise<void> {
    this.mergeChat(await this.client.updateChat(chatId, req));
  }

  /** updateSettings changes the user's own settings of a chat (pinned chats sort first). */
  async updateSettings(chatId: string, req: SettingsRequest): Promise<void> {
    const settings = await this.client.updateSettings(chatId, req);
    const c = this.chats.get(chatId);
    if (!c) return;
    this.chats.set(chatId, Object.freeze({ ...c, settings }));
    this.chatsChanged();
  }

  /** typing tells the others the user is typing; call it on every keystroke. */
  typingIn(chatId: string): void {
    this.client.typing(chatId);
  }

  /**
   * markRead marks an open chat read up to the highest seq the store
   * holds of it. Call it while the chat is on screen (and the page
   * visible): after opening it and after each change. It sends nothing
   * when nothing is unread, and one request at a time per chat.
   */
  async markRead(chatId: string): Promise<void> {
    const c = this.chats.get(chatId);
    const r = this.rooms.get(chatId);
    if (!c || !r || r.loading || this.marking.has(chatId)) return;
    const seq = Math.max(c.last_seq, ...r.msgs.keys());
    if (c.unread_count === 0 || seq <= readSeq(c, this.me)) return;
    this.marking.add(chatId);
    try {
      const marker = await this.client.markRead(chatId, seq);
      this.onRead(chatId, this.me, marker.read_seq);
    } catch {
      return; // The next change tries again.
    } finally {
      this.marking.delete(chatId);
    }
    // What arrived meanwhile is marked too; but never the same seq again,
    // which a server that clamps the marker below it would answer alike.
    const now = this.chats.get(chatId);
    const room = this.rooms.get(chatId);
    if (now && room && now.unread_count > 0 && Math.max(now.last_seq, ...room.msgs.keys()) > seq) {
      await this.markRead(chatId);
    }
  }
}

/** chatTitle names a chat for a user: a group's title or its other members, a direct chat's other member. */
export function chatTitle(c: Chat, me: string): string {
  const others = c.members.filter((m) => m.user_id !== me).map((m) => m.display_name || m.user_id);
  if (c.kind === 'group') return c.title || others.join(', ') || 'Just you';
  return others[0] ?? me;
}

/**
 * seenBy maps each of the given messages' seqs to the other members whose
 * read marker is at it or past it but short of the next message: a
 * member's receipt shows once, under the last message they have read.
 */
export function seenBy(c: Chat, messages: readonly Message[], me: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const member of c.members) {
    if (member.user_id === me) continue;
    let at = 0;
    for (const m of messages) {
      if (m.seq > member.last_read_seq) break;
      at = m.seq;
    }
    if (!at) continue;
    const names = out.get(at) ?? [];
    names.push(member.display_name || member.user_id);
    out.set(at, names);
  }
  return out;
}

/**
 * newer reports whether b is a later state of a message than a: a
 * deletion is final, and edits are ordered by edited_at.
 */
/**
 * withReaction returns m with a reaction event applied: the emoji's count
 * set to the event's (dropped at 0), and `me` following the user's own
 * reactions. Counts are absolute, so events applied in order end at the
 * current counts.
 */
export function withReaction(m: Message, ev: ReactionEvent, me: string): Message {
  const { emoji, count } = ev.reaction;
  const list = [...(m.reactions ?? [])];
  const i = list.findIndex((x) => x.emoji === emoji);
  const mine = ev.user_id === me ? ev.type === 'reaction.added' : (list[i]?.me ?? false);
  if (count <= 0) {
    if (i >= 0) list.splice(i, 1);
  } else if (i >= 0) {
    list[i] = { emoji, count, me: mine };
  } else {
    list.push({ emoji, count, me: mine });
  }
  return { ...m, reactions: list };
}

// keepCounters returns m, from an event, with what held knows better: the
// user's own reactions (events never say), and for edits and deletes,
// which may leave them out, the reaction counts and thread counters.
function keepCounters(m: Message, held: Message | undefined, created: boolean): Message {
  if (!held) return m;
  if (!created) {
    return {
      ...m,
      reactions: held.reactions,
      reply_count: held.reply_count,
      last_reply_seq: held.last_reply_seq,
      last_reply_at: held.last_reply_at,
    };
  }
  const mine = new Set((held.reactions ?? []).filter((x) => x.me).map((x) => x.emoji));
  if (!mine.size || !m.reactions) return m;
  return { ...m, reactions: m.reactions.map((x) => ({ ...x, me: mine.has(x.emoji) })) };
}

export function newer(b: Message, a: Message | undefined): boolean {
  if (!a) return true;
  if (a.deleted) return false;
  if (b.deleted) return true;
  const edited = (m: Message) => (m.edited_at ? Date.parse(m.edited_at) : 0);
  return edited(b) >= edited(a);
}

function readSeq(c: Chat, user: string): number {
  return c.members.find((m) => m.user_id === user)?.last_read_seq ?? 0;
}

function pickActivity(
  c: Chat,
): Pick<Chat, 'last_seq' | 'last_activity_at' | 'last_message' | 'members' | 'unread_count' | 'title' | 'metadata' | 'settings'> {
  return {
    last_seq: c.last_seq,
    last_activity_at: c.last_activity_at,
    last_message: c.last_message,
    members: c.members,
    unread_count: c.unread_count,
    title: c.title,
    metadata: c.metadata,
    settings: c.settings,
  };
}

function asChatError(err: unknown): ChatError {
  return err instanceof ChatError ? err : new ChatError(0, 'network', err instanceof Error ? err.message : String(err));
}
