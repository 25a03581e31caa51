// @embedchat/client, built from clients/js by `npm run build`. Do not edit: edit clients/js/src.

// src/backoff.ts
function backoffDelay(attempt, minDelay, maxDelay, random) {
  const cap = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}
var regular = (reason) => ({ reason, delay: backoffDelay, clientFault: false });
var clientFault = (reason) => ({
  reason,
  delay: (_attempt, _min, max, random) => Math.floor(max / 2 + random() * max / 2),
  clientFault: true
});
function closePolicy(code) {
  switch (code) {
    case 1e3:
      return regular("the connection was closed");
    case 1001:
      return regular("the server is restarting");
    case 1008:
      return regular("the connection was too slow");
    case 1009:
      return clientFault("the client sent a frame that was too big");
    case 1011:
      return regular("the server had an internal error");
    case 1013:
      return {
        reason: "the server is busy",
        delay: (attempt, min, max, random) => Math.max(min * 2, backoffDelay(Math.max(attempt, 3), min, max, random)),
        clientFault: false
      };
    case 4e3:
      return {
        reason: "the connection fell behind",
        delay: (attempt, min, max, random) => backoffDelay(Math.max(attempt - 1, 0), min / 4, max, random),
        clientFault: false
      };
    case 4001:
      return clientFault("the client did not resume in time");
    default:
      return regular("the connection was lost");
  }
}

// src/errors.ts
var ChatError = class extends Error {
  status;
  code;
  /** Seconds to wait before retrying, from `Retry-After` (429, 503). */
  retryAfter;
  constructor(status, code, message, retryAfter) {
    super(message);
    this.name = "ChatError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
  /**
   * Whether retrying the same request may succeed: no answer, a server
   * error, or a rate limit. Sends are safe to retry with their client_id.
   */
  get transient() {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
};
function describeError(err) {
  if (!(err instanceof ChatError)) return "Something went wrong.";
  switch (err.code) {
    case "network":
      return "Can't reach the chat server. Check your connection.";
    case "unauthenticated":
      return "You are signed out. Sign in again.";
    case "not_found":
      return "This chat or message no longer exists, or you are no longer a member.";
    case "forbidden":
      return err.message ? `Not allowed: ${err.message}` : "You are not allowed to do that.";
    case "rejected":
      return err.message ? `Refused: ${err.message}` : "The server refused this message.";
    case "rate_limited":
      return `You are sending too fast. Try again in ${err.retryAfter ?? 1} s.`;
    case "conflict":
      return "The message was deleted meanwhile.";
    case "payload_too_large":
      return "That is too long.";
    case "unavailable":
      return "The chat server is busy or restarting. Try again in a moment.";
    case "not_implemented":
      return "The chat server does not offer this.";
    case "invalid_request":
      return err.message ? capitalize(err.message) + "." : "The server did not accept that.";
    default:
      return err.status >= 500 ? "The chat server had a problem. Try again." : capitalize(err.message) || "Something went wrong.";
  }
}
function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

// src/storage.ts
var MemoryStorage = class {
  items = /* @__PURE__ */ new Map();
  getItem(key) {
    return this.items.get(key) ?? null;
  }
  setItem(key, value) {
    this.items.set(key, value);
  }
  removeItem(key) {
    this.items.delete(key);
  }
};
function browserStorage() {
  try {
    const s = globalThis.localStorage;
    if (s) {
      const probe = "__embedchat_probe__";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    }
  } catch {
  }
  return new MemoryStorage();
}
function loadPositions(storage, key) {
  try {
    const raw = storage.getItem(key);
    if (!raw) return {};
    const parsed = JSON.parse(raw);
    const out = {};
    if (parsed && typeof parsed === "object") {
      for (const [id, seq] of Object.entries(parsed)) {
        if (typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0) out[id] = seq;
      }
    }
    return out;
  } catch {
    return {};
  }
}
function savePositions(storage, key, positions) {
  try {
    storage.setItem(key, JSON.stringify(positions));
  } catch {
  }
}

// src/types.ts
var persistedTypes = /* @__PURE__ */ new Set([
  "message.created",
  "message.updated",
  "message.deleted",
  "member.added",
  "member.removed",
  "reaction.added",
  "reaction.removed",
  "member.role",
  "member.banned",
  "member.unbanned",
  "chat.updated",
  "member.settings"
]);

// src/client.ts
var OPEN = 1;
var ChatClient = class {
  constructor(options) {
    this.options = options;
    if (!options.userId) throw new Error("embedchat: userId is required");
    this.userId = options.userId;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    const f = options.fetch ?? globalThis.fetch;
    if (!f) throw new Error("embedchat: no fetch; pass one in the options");
    this.fetchFn = f.bind(globalThis);
    this.storage = options.storage ?? browserStorage();
    this.storageKey = options.storageKey ?? `embedchat:positions:${options.userId}`;
    this.opts = {
      minReconnectDelay: options.minReconnectDelay ?? 500,
      maxReconnectDelay: options.maxReconnectDelay ?? 2e4,
      typingInterval: options.typingInterval ?? 3e3,
      requestTimeout: options.requestTimeout ?? 15e3,
      sendRetries: options.sendRetries ?? 3,
      random: options.random ?? Math.random
    };
    for (const [id, seq] of Object.entries(loadPositions(this.storage, this.storageKey))) {
      this.positions.set(id, seq);
    }
  }
  options;
  userId;
  opts;
  baseUrl;
  fetchFn;
  storage;
  storageKey;
  positions = /* @__PURE__ */ new Map();
  saveQueued = false;
  listeners = /* @__PURE__ */ new Map();
  typingSent = /* @__PURE__ */ new Map();
  ws = null;
  wanted = false;
  timer = null;
  statusValue = { state: "disconnected", attempt: 0, retryAt: null, retryDelay: null, lastClose: null };
  // ---- events ----
  /** on adds a listener and returns the function that removes it. */
  on(type, listener) {
    let set = this.listeners.get(type);
    if (!set) {
      set = /* @__PURE__ */ new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }
  emit(type, value) {
    for (const l of [...this.listeners.get(type) ?? []]) {
      try {
        l(value);
      } catch (err) {
        console.error("embedchat: listener failed", err);
      }
    }
  }
  // ---- positions ----
  /** The last seq held of each chat: what the next resume asks to continue from. */
  getPositions() {
    return Object.fromEntries(this.positions);
  }
  /** The last seq held of a chat, or undefined if the client has none. */
  position(chatId) {
    return this.positions.get(chatId);
  }
  /**
   * advance moves a chat's position forward to seq (never back). Call it
   * for chats whose state you hold up to seq without their events, such
   * as a chat list entry; not past messages you do not hold.
   */
  advance(chatId, seq) {
    const cur = this.positions.get(chatId);
    if (cur !== void 0 && cur >= seq) return;
    this.positions.set(chatId, seq);
    this.queueSave();
  }
  /** forget drops a chat's position: the chat is gone or no longer of interest. */
  forget(chatId) {
    if (this.positions.delete(chatId)) this.queueSave();
  }
  queueSave() {
    if (this.saveQueued) return;
    this.saveQueued = true;
    queueMicrotask(() => {
      this.saveQueued = false;
      savePositions(this.storage, this.storageKey, this.getPositions());
    });
  }
  // ---- connection ----
  /** The connection's status now. */
  get status() {
    return this.statusValue;
  }
  setStatus(patch) {
    this.statusValue = { ...this.statusValue, ...patch };
    this.emit("status", this.statusValue);
  }
  /** connect opens the live connection and keeps it open until disconnect. */
  connect() {
    if (this.wanted) return;
    if (!this.wsConstructor()) throw new Error("embedchat: no WebSocket; pass one in the options (the ws package in Node 20)");
    this.wanted = true;
    void this.open();
  }
  /** disconnect closes the live connection and stops reconnecting. */
  disconnect() {
    this.wanted = false;
    this.clearTimer();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1e3, "client closed");
    }
    this.setStatus({ state: "disconnected", retryAt: null, retryDelay: null, attempt: 0 });
  }
  /** reconnectNow skips the wait before the next attempt (say, when the browser comes back online). */
  reconnectNow() {
    if (!this.wanted || this.ws) return;
    this.clearTimer();
    void this.open();
  }
  clearTimer() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
  wsConstructor() {
    return this.options.WebSocket ?? globalThis.WebSocket;
  }
  wsUrl() {
    const raw = this.options.wsUrl ?? this.baseUrl + "/ws";
    const loc = globalThis.location;
    const url = new URL(raw, loc ? loc.href : void 0);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    return url.toString();
  }
  async open() {
    this.setStatus({ state: "connecting", retryAt: null, retryDelay: null });
    try {
      await this.options.beforeConnect?.();
    } catch {
    }
    if (!this.wanted || this.ws) return;
    let ws;
    try {
      ws = new (this.wsConstructor())(this.wsUrl());
    } catch {
      this.closed(1006, "");
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "resume", positions: this.getPositions() }));
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws || typeof e.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame && typeof frame === "object") this.handleFrame(frame);
    };
    ws.onerror = () => {
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(e.code, e.reason);
    };
  }
  closed(code, reason) {
    const policy = closePolicy(code);
    if (policy.clientFault) this.emit("error", { code: String(code), message: policy.reason });
    if (!this.wanted) return;
    const o = this.opts;
    const delay = policy.delay(this.statusValue.attempt, o.minReconnectDelay, o.maxReconnectDelay, o.random);
    this.setStatus({
      state: "disconnected",
      attempt: this.statusValue.attempt + 1,
      retryAt: Date.now() + delay,
      retryDelay: delay,
      lastClose: { code, reason: reason || policy.reason }
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, delay);
  }
  handleFrame(f) {
    const type = f["type"];
    const chatId = typeof f["chat_id"] === "string" ? f["chat_id"] : "";
    if (typeof type !== "string") return;
    if (persistedTypes.has(type)) {
      this.deliverPersisted(f);
      return;
    }
    switch (type) {
      case "resumed":
        this.setStatus({ state: "connected", attempt: 0, retryAt: null, retryDelay: null });
        this.emit("resumed", void 0);
        return;
      case "resync":
        if (chatId) this.resync(chatId);
        return;
      case "error":
        this.emit("error", { code: String(f["code"] ?? ""), message: String(f["message"] ?? "") });
        return;
      case "chat.created":
      case "read":
      case "typing":
      case "presence":
        if (chatId) this.emit("event", f);
        return;
      default:
        return;
    }
  }
  // deliverPersisted passes on an event the client has not delivered
  // before. A resume replays from the position, so seqs continue without a
  // gap; a gap means events went missing, and the chat is refetched.
  deliverPersisted(ev) {
    if (typeof ev.seq !== "number" || !ev.chat_id) return;
    const pos = this.positions.get(ev.chat_id);
    if (pos !== void 0 && ev.seq <= pos) return;
    if (pos !== void 0 && ev.seq > pos + 1) {
      this.resync(ev.chat_id);
      return;
    }
    if (ev.type === "member.removed" && ev.user_id === this.userId) {
      this.forget(ev.chat_id);
    } else {
      this.positions.set(ev.chat_id, ev.seq);
      this.queueSave();
    }
    this.emit("event", ev);
  }
  // resync drops the chat's position: live events continue from the
  // server's latest seq, and what lies between is for REST to refetch.
  resync(chatId) {
    this.forget(chatId);
    this.emit("resync", chatId);
  }
  /**
   * typing tells the other members that the user is typing in a chat. Call
   * it on every keystroke: at most one frame per `typingInterval` is sent.
   */
  typing(chatId) {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.statusValue.state !== "connected") return;
    const now = Date.now();
    const last = this.typingSent.get(chatId);
    if (last !== void 0 && now - last < this.opts.typingInterval) return;
    this.typingSent.set(chatId, now);
    ws.send(JSON.stringify({ type: "typing", chat_id: chatId }));
  }
  // ---- REST ----
  /**
   * request sends one REST call. Bodies are always JSON with
   * `Content-Type: application/json`; errors are ChatErrors.
   */
  async request(method, path, body) {
    if (body === void 0) return this.send(method, path, void 0, void 0, (r) => r.text()).then(decodeJSON);
    return this.send(method, path, JSON.stringify(body), "application/json", (r) => r.text()).then(decodeJSON);
  }
  /**
   * send makes one REST call with a body of the given type and reads a
   * successful answer with read; errors are ChatErrors.
   */
  async send(method, path, body, contentType, read) {
    const h = this.options.headers;
    const headers = { Accept: "application/json", ...typeof h === "function" ? h() : h };
    const init = { method, headers, credentials: this.options.credentials ?? "same-origin" };
    if (body !== void 0 && contentType !== void 0) {
      headers["Content-Type"] = contentType;
      init.body = body;
    }
    const abort = new AbortController();
    init.signal = abort.signal;
    const timer = setTimeout(() => abort.abort(), this.opts.requestTimeout);
    let resp;
    let text = "";
    let result;
    try {
      resp = await this.fetchFn(this.baseUrl + path, init);
      if (resp.ok) result = await read(resp);
      else text = await resp.text();
    } catch (err) {
      throw new ChatError(0, "network", err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
    if (resp.ok) return result;
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    const e = data?.error;
    const retry = Number(resp.headers.get("Retry-After"));
    throw new ChatError(
      resp.status,
      typeof e?.code === "string" ? e.code : "http_" + resp.status,
      typeof e?.message === "string" ? e.message : resp.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : void 0
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
  uploadAttachment(chatId, file, name) {
    const fileName = name ?? file.name;
    const path = chatPath(chatId) + "/attachments" + query({ name: typeof fileName === "string" ? fileName : void 0 });
    return this.send("POST", path, file, "application/octet-stream", (r) => r.json());
  }
  /**
   * attachmentUrl is where an attachment downloads from. Use it as an
   * `<img src>` or link when the host authenticates with a cookie; with
   * header authentication, use downloadAttachment.
   */
  attachmentUrl(chatId, attachmentId) {
    return this.baseUrl + chatPath(chatId) + "/attachments/" + encodeURIComponent(attachmentId);
  }
  /** downloadAttachment fetches an attachment's bytes, with the client's headers. */
  downloadAttachment(chatId, attachmentId) {
    return this.send("GET", chatPath(chatId) + "/attachments/" + encodeURIComponent(attachmentId), void 0, void 0, (r) => r.blob());
  }
  /** listChats returns a page of the user's chats, most recent activity first. */
  listChats(opts = {}) {
    return this.request("GET", "/chats" + query({ limit: opts.limit, cursor: opts.cursor, archived: opts.archived }));
  }
  /** getChat returns a chat; a ChatError with code `not_found` if it is gone or the user is not in it. */
  getChat(chatId) {
    return this.request("GET", chatPath(chatId));
  }
  /** createChat creates a group, or a direct chat (or returns the existing one). */
  createChat(req) {
    return this.request("POST", "/chats", req);
  }
  /** listMessages returns the newest messages, or those `before` or `after` a seq. */
  listMessages(chatId, opts = {}) {
    return this.request("GET", chatPath(chatId) + "/messages" + query({ ...opts }));
  }
  /**
   * sendMessage stores a message. It gives the message a client_id if it
   * has none and retries transient failures (no answer, 5xx, 429) with it,
   * so a retry of a send that got through is not stored twice.
   */
  async sendMessage(chatId, req) {
    const body = { ...req, client_id: req.client_id || this.newClientId() };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request("POST", chatPath(chatId) + "/messages", body);
      } catch (err) {
        if (!(err instanceof ChatError) || !err.transient || attempt >= this.opts.sendRetries) throw err;
        const wait = err.retryAfter !== void 0 ? err.retryAfter * 1e3 : this.opts.minReconnectDelay * 2 ** attempt;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
  /** editMessage replaces the text of one of the user's messages. */
  editMessage(chatId, seq, text) {
    return this.request("PATCH", `${chatPath(chatId)}/messages/${seq}`, { text });
  }
  /** deleteMessage turns one of the user's messages into a tombstone. */
  deleteMessage(chatId, seq) {
    return this.request("DELETE", `${chatPath(chatId)}/messages/${seq}`);
  }
  /**
   * react adds the user's reaction to a message (idempotent) and returns
   * the message with its reaction counts.
   */
  react(chatId, seq, emoji) {
    return this.request("PUT", `${chatPath(chatId)}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`);
  }
  /** unreact takes the user's reaction back (idempotent) and returns the message. */
  unreact(chatId, seq, emoji) {
    return this.request("DELETE", `${chatPath(chatId)}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`);
  }
  /** listReplies returns a page of the thread of message seq, as listMessages pages the chat. */
  listReplies(chatId, seq, opts = {}) {
    return this.request("GET", `${chatPath(chatId)}/messages/${seq}/replies` + query({ ...opts }));
  }
  /** markRead moves the user's read marker forward to seq; the answer is the marker after the call. */
  markRead(chatId, seq) {
    return this.request("POST", chatPath(chatId) + "/read", { seq });
  }
  /**
   * listMembers pages a chat's members by user_id. Chat objects carry only
   * the first ones (see `member_count`); this gives the rest.
   */
  listMembers(chatId, opts = {}) {
    return this.request("GET", chatPath(chatId) + "/members" + query({ ...opts }));
  }
  /**
   * listPresence pages who of a chat's members is online, by user_id, as
   * listMembers pages them. A server without presence answers
   * `not_implemented`. Changes arrive as `presence` events.
   */
  listPresence(chatId, opts = {}) {
    return this.request("GET", chatPath(chatId) + "/presence" + query({ ...opts }));
  }
  /** addMember adds a user to a group and returns the chat. */
  addMember(chatId, userId) {
    return this.request("POST", chatPath(chatId) + "/members", { user_id: userId });
  }
  /** removeMember removes a user from a group; the user's own id leaves it. */
  async removeMember(chatId, userId) {
    await this.request("DELETE", `${chatPath(chatId)}/members/${encodeURIComponent(userId)}`);
  }
  /** setRole changes a member's role in a group (owners only; anyone may lower their own). */
  setRole(chatId, userId, role) {
    return this.request("PATCH", `${chatPath(chatId)}/members/${encodeURIComponent(userId)}`, { role });
  }
  /** updateChat renames a group or changes its metadata (owners and admins). */
  updateChat(chatId, req) {
    return this.request("PATCH", chatPath(chatId), req);
  }
  /** ban removes a user from a group, if a member, and keeps them from being added back. */
  async ban(chatId, userId) {
    await this.request("POST", chatPath(chatId) + "/bans", { user_id: userId });
  }
  /** unban lifts a user's ban from a group. */
  async unban(chatId, userId) {
    await this.request("DELETE", `${chatPath(chatId)}/bans/${encodeURIComponent(userId)}`);
  }
  /** listBans returns the users banned from a group (owners and admins). */
  async listBans(chatId) {
    return (await this.request("GET", chatPath(chatId) + "/bans")).bans;
  }
  /** updateSettings changes the user's own settings of a chat; their other devices get member.settings. */
  updateSettings(chatId, req) {
    return this.request("PATCH", chatPath(chatId) + "/settings", req);
  }
  /** block blocks a user: no direct messages either way until unblock. */
  async block(userId) {
    await this.request("POST", "/blocks", { user_id: userId });
  }
  /** unblock lifts the user's block of another. */
  async unblock(userId) {
    await this.request("DELETE", "/blocks/" + encodeURIComponent(userId));
  }
  /** listBlocks returns the users the user blocks. */
  async listBlocks() {
    return (await this.request("GET", "/blocks")).blocks;
  }
  /**
   * search finds the messages of the caller's chats (or of `opts.chatId`)
   * that have every word of `q` at the start of one of their words,
   * newest first; page with `next_cursor`. A server whose Store cannot
   * search fails it with a ChatError of code `not_implemented` (501).
   */
  search(q, opts = {}) {
    return this.request("GET", "/search" + query({ q, chat_id: opts.chatId, limit: opts.limit, cursor: opts.cursor }));
  }
  /** newClientId returns a random UUID for a message's client_id. */
  newClientId() {
    const c = globalThis.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    const b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(this.opts.random() * 256);
    b[6] = b[6] & 15 | 64;
    b[8] = b[8] & 63 | 128;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
};
function detach(ws) {
  const noop = () => {
  };
  ws.onopen = noop;
  ws.onmessage = noop;
  ws.onclose = noop;
  ws.onerror = noop;
}
function decodeJSON(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
function chatPath(chatId) {
  return "/chats/" + encodeURIComponent(chatId);
}
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== void 0 && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// src/store.ts
var ChatStore = class {
  constructor(client, options = {}) {
    this.client = client;
    this.me = client.userId;
    this.chatPageSize = options.chatPageSize ?? 50;
    this.messagePageSize = options.messagePageSize ?? 50;
    this.typingTimeout = options.typingTimeout ?? 4e3;
    this.connection = client.status;
  }
  client;
  me;
  chatPageSize;
  messagePageSize;
  typingTimeout;
  chats = /* @__PURE__ */ new Map();
  chatList = null;
  cursor = "";
  chatsLoaded = false;
  chatsError = null;
  rooms = /* @__PURE__ */ new Map();
  roomsSnapshot = null;
  pending = /* @__PURE__ */ new Map();
  typing = /* @__PURE__ */ new Map();
  fetching = /* @__PURE__ */ new Map();
  // Events of chats the store does not know, held until the first chat
  // list arrives: it will know most of them, and the rest are fetched.
  early = [];
  marking = /* @__PURE__ */ new Set();
  lost = null;
  connection;
  presence = /* @__PURE__ */ new Map();
  presenceSnapshot = null;
  // False once the server said it has no presence.
  presenceAvailable = true;
  snapshot = null;
  listeners = /* @__PURE__ */ new Set();
  notifyQueued = false;
  unsubscribers = [];
  started = false;
  // ---- the useSyncExternalStore contract ----
  /** subscribe calls listener after every change and returns the function that stops it. */
  subscribe = (listener) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
  /** getSnapshot returns the current state; the same object until something changes. */
  getSnapshot = () => {
    if (!this.snapshot) {
      this.snapshot = Object.freeze({
        userId: this.me,
        connection: this.connection,
        chats: this.sortedChats(),
        chatsLoaded: this.chatsLoaded,
        chatsError: this.chatsError,
        hasMoreChats: this.cursor !== "",
        rooms: this.roomSnapshots(),
        lost: this.lost,
        presence: this.presenceSnapshots()
      });
    }
    return this.snapshot;
  };
  changed(room) {
    this.snapshot = null;
    if (room !== void 0) {
      const r = this.rooms.get(room);
      if (r) r.snapshot = null;
      this.roomsSnapshot = null;
    }
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const l of [...this.listeners]) l();
    });
  }
  chatsChanged() {
    this.chatList = null;
    this.changed();
  }
  sortedChats() {
    if (!this.chatList) {
      this.chatList = Object.freeze(
        [...this.chats.values()].sort(
          (a, b) => Number(b.settings?.pinned ?? false) - Number(a.settings?.pinned ?? false) || Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
        )
      );
    }
    return this.chatList;
  }
  presenceSnapshots() {
    if (!this.presenceSnapshot) this.presenceSnapshot = Object.freeze(Object.fromEntries(this.presence));
    return this.presenceSnapshot;
  }
  roomSnapshots() {
    if (!this.roomsSnapshot) {
      const out = {};
      for (const [id, r] of this.rooms) out[id] = this.roomSnapshot(id, r);
      this.roomsSnapshot = Object.freeze(out);
    }
    return this.roomsSnapshot;
  }
  roomSnapshot(id, r) {
    if (!r.snapshot) {
      r.snapshot = Object.freeze({
        id,
        loading: r.loading,
        error: r.error,
        messages: Object.freeze([...r.msgs.values()].sort((a, b) => a.seq - b.seq)),
        pending: Object.freeze([...this.pending.get(id)?.values() ?? []]),
        hasOlder: r.hasOlder,
        loadingOlder: r.loadingOlder,
        typing: Object.freeze([...this.typing.get(id)?.keys() ?? []])
      });
    }
    return r.snapshot;
  }
  // ---- life cycle ----
  /** start lists chats and connects; the store is live until `stop`. */
  start() {
    if (this.started) return;
    this.started = true;
    const c = this.client;
    this.unsubscribers.push(
      c.on("event", (ev) => this.onEvent(ev)),
      c.on("resync", (id) => void this.onResync(id)),
      c.on("resumed", () => {
        void this.refreshChats();
        for (const id of this.rooms.keys()) void this.loadPresence(id);
      }),
      c.on("status", (s) => {
        this.connection = s;
        this.changed();
      })
    );
    void this.refreshChats();
    c.connect();
  }
  /** stop disconnects and drops timers; the snapshot stays readable. */
  stop() {
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
  async refreshChats() {
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
    if (page.next_cursor === "") {
      const listed = new Set(page.chats.map((c) => c.id));
      const known = /* @__PURE__ */ new Set([...this.chats.keys(), ...Object.keys(this.client.getPositions())]);
      const gone = [...known].filter((id) => !listed.has(id) && !this.fetching.has(id));
      if (gone.length > 0) this.reportLost(gone, gone.length === known.size);
    }
    if (!wasLoaded || this.cursor !== page.next_cursor) {
      this.cursor = page.next_cursor;
      this.changed();
    }
  }
  /** loadMoreChats fetches the next page of the chat list. */
  async loadMoreChats() {
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
  dismissLost() {
    this.lost = null;
    this.changed();
  }
  reportLost(ids, serverReset) {
    const chats = ids.map((id) => this.chats.get(id)).filter((c) => c !== void 0);
    for (const id of ids) this.dropChat(id);
    const prev = this.lost;
    this.lost = Object.freeze({
      chats: Object.freeze([...prev?.chats ?? [], ...chats]),
      serverReset: serverReset || (prev?.serverReset ?? false)
    });
    this.chatsChanged();
  }
  // mergeChat takes a chat from a REST answer. Live events may be newer
  // than the answer, so the newer of the two states wins, and read
  // markers only move forward.
  mergeChat(c, replace = false) {
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
    if (!this.rooms.has(c.id) || replace) this.client.advance(c.id, next.last_seq);
    if (old && JSON.stringify(old) === JSON.stringify(next)) return;
    this.chats.set(c.id, Object.freeze(next));
    this.chatsChanged();
  }
  dropChat(id) {
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
  async fetchChat(id) {
    if (this.fetching.has(id)) return;
    this.fetching.set(id, []);
    let chat = null;
    let err = null;
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
    } else if (err?.code === "not_found") {
      if (this.chats.has(id)) this.reportLost([id], false);
    }
  }
  // ---- events ----
  onEvent(ev) {
    switch (ev.type) {
      case "chat.created":
        if (!this.chats.has(ev.chat_id)) this.mergeChat(ev.chat);
        return;
      case "read":
        this.onRead(ev.chat_id, ev.user_id, ev.read_seq);
        return;
      case "typing":
        this.onTyping(ev.chat_id, ev.user_id);
        return;
      case "presence":
        this.putPresence([ev.presence]);
        return;
      default:
        this.onPersisted(ev);
    }
  }
  onPersisted(ev) {
    const id = ev.chat_id;
    if (ev.type === "member.removed" && ev.user_id === this.me) {
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
  applyToChat(c, ev) {
    if (ev.seq <= c.last_seq) return;
    const next = { ...c, last_seq: ev.seq };
    switch (ev.type) {
      case "message.created": {
        const m = ev.message;
        if (this.countsAsUnread(c, m)) {
          next.unread_count = c.unread_count + 1;
          if (this.mentionsMe(m)) next.unread_mentions = (c.unread_mentions ?? 0) + 1;
        }
        if (!c.last_message || m.seq >= c.last_message.seq) next.last_message = m;
        next.last_activity_at = m.created_at;
        break;
      }
      case "message.deleted":
      case "message.updated": {
        const m = ev.message;
        if (ev.type === "message.deleted" && this.countsAsUnread(c, m)) {
          next.unread_count = Math.max(0, c.unread_count - 1);
          if (this.mentionsMe(m)) next.unread_mentions = Math.max(0, (c.unread_mentions ?? 0) - 1);
        }
        if (c.last_message && c.last_message.seq === m.seq && newer(m, c.last_message)) next.last_message = m;
        next.last_activity_at = m.edited_at ?? (/* @__PURE__ */ new Date()).toISOString();
        break;
      }
      case "member.added":
        if (!c.members.some((x) => x.user_id === ev.user_id)) {
          next.members = [...c.members, { user_id: ev.user_id, last_read_seq: ev.seq }].sort(
            (a, b) => a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0
          );
        }
        next.last_activity_at = (/* @__PURE__ */ new Date()).toISOString();
        break;
      case "member.removed":
        next.members = c.members.filter((x) => x.user_id !== ev.user_id);
        next.last_activity_at = (/* @__PURE__ */ new Date()).toISOString();
        break;
      case "reaction.added":
      case "reaction.removed":
        if (c.last_message && c.last_message.seq === ev.reaction.message_seq) {
          next.last_message = withReaction(c.last_message, ev, this.me);
        }
        next.last_activity_at = (/* @__PURE__ */ new Date()).toISOString();
        break;
      case "member.role":
        next.members = c.members.map((x) => x.user_id === ev.user_id ? { ...x, role: ev.role } : x);
        next.last_activity_at = (/* @__PURE__ */ new Date()).toISOString();
        break;
      case "chat.updated":
        next.title = ev.info.title;
        if (ev.info.metadata) next.metadata = ev.info.metadata;
        else delete next.metadata;
        next.last_activity_at = (/* @__PURE__ */ new Date()).toISOString();
        break;
      case "member.banned":
      case "member.unbanned":
        next.last_activity_at = (/* @__PURE__ */ new Date()).toISOString();
        break;
      case "member.settings":
        if (ev.user_id === this.me && ev.settings) next.settings = ev.settings;
        break;
    }
    this.chats.set(c.id, Object.freeze(next));
    this.chatsChanged();
  }
  countsAsUnread(c, m) {
    return m.sender !== this.me && m.seq > readSeq(c, this.me);
  }
  mentionsMe(m) {
    return m.mentions?.includes(this.me) ?? false;
  }
  applyToRoom(ev) {
    if (ev.type === "reaction.added" || ev.type === "reaction.removed") {
      const r2 = this.rooms.get(ev.chat_id);
      const held = r2?.msgs.get(ev.reaction.message_seq);
      if (r2 && held) this.putMessages(ev.chat_id, r2, [withReaction(held, ev, this.me)]);
      return;
    }
    if (!("message" in ev)) return;
    const r = this.rooms.get(ev.chat_id);
    const m = keepCounters(ev.message, r?.msgs.get(ev.message.seq), ev.type === "message.created");
    if (ev.type === "message.created") {
      if (m.sender === this.me && m.client_id) this.settlePending(ev.chat_id, m.client_id);
      this.clearTyping(ev.chat_id, m.sender);
    }
    if (!r) return;
    const oldest = r.msgs.size ? Math.min(...r.msgs.keys()) : Infinity;
    if (ev.type === "message.created" || r.msgs.has(m.seq) || m.seq > oldest) {
      this.putMessages(ev.chat_id, r, [m]);
    } else if (r.loading) {
      r.updates.set(m.seq, m);
    }
    const parent = ev.type === "message.created" && m.reply_to ? r.msgs.get(m.reply_to) : void 0;
    if (parent && m.seq > (parent.last_reply_seq ?? 0)) {
      const counted = { ...parent, reply_count: (parent.reply_count ?? 0) + 1, last_reply_seq: m.seq, last_reply_at: m.created_at };
      this.putMessages(ev.chat_id, r, [counted]);
    }
  }
  putMessages(id, r, msgs) {
    let changed = false;
    for (const m of msgs) {
      if (newer(m, r.msgs.get(m.seq))) {
        r.msgs.set(m.seq, Object.freeze(m));
        changed = true;
      }
    }
    if (changed) this.changed(id);
  }
  onRead(chatId, userId, readSeq2) {
    const c = this.chats.get(chatId);
    const member = c?.members.find((x) => x.user_id === userId);
    if (!c || !member || readSeq2 <= member.last_read_seq) return;
    const next = {
      ...c,
      members: c.members.map((x) => x.user_id === userId ? { ...x, last_read_seq: readSeq2 } : x)
    };
    let refetch = false;
    if (userId === this.me) {
      if (readSeq2 >= c.last_seq) {
        next.unread_count = 0;
        if (c.unread_mentions) next.unread_mentions = 0;
      } else refetch = true;
    }
    this.chats.set(chatId, Object.freeze(next));
    this.chatsChanged();
    this.changed(chatId);
    if (refetch) void this.refetchChat(chatId);
  }
  async refetchChat(id) {
    try {
      this.mergeChat(await this.client.getChat(id));
    } catch (err) {
      if (asChatError(err).code === "not_found" && this.chats.has(id)) this.reportLost([id], false);
    }
  }
  onTyping(chatId, userId) {
    if (userId === this.me) return;
    let typers = this.typing.get(chatId);
    if (!typers) {
      typers = /* @__PURE__ */ new Map();
      this.typing.set(chatId, typers);
    }
    const prev = typers.get(userId);
    if (prev !== void 0) clearTimeout(prev);
    typers.set(
      userId,
      setTimeout(() => this.clearTyping(chatId, userId), this.typingTimeout)
    );
    if (prev === void 0) this.changed(chatId);
  }
  clearTyping(chatId, userId) {
    const typers = this.typing.get(chatId);
    const t = typers?.get(userId);
    if (t === void 0) return;
    clearTimeout(t);
    typers.delete(userId);
    this.changed(chatId);
  }
  // onResync refetches a chat the server could not replay, and reloads
  // its room. A chat whose server history is behind what the store saw
  // means the server lost data.
  async onResync(id) {
    const before = this.chats.get(id);
    const r = this.rooms.get(id);
    if (r) this.rooms.delete(id);
    let chat;
    try {
      chat = await this.client.getChat(id);
    } catch (err) {
      if (asChatError(err).code === "not_found") {
        if (before) this.reportLost([id], false);
        else this.dropChat(id);
      }
      return;
    }
    if (before && chat.last_seq < before.last_seq) {
      this.lost = Object.freeze({ chats: Object.freeze([...this.lost?.chats ?? [], before]), serverReset: true });
    }
    this.mergeChat(chat, true);
    if (r) await this.openChat(id);
  }
  // ---- rooms ----
  /**
   * openChat loads a chat's newest messages and keeps them current until
   * `closeChat`. Opening an open chat does nothing, unless its loading failed.
   */
  async openChat(id) {
    const existing = this.rooms.get(id);
    if (existing && !existing.error) return;
    const r = {
      msgs: /* @__PURE__ */ new Map(),
      updates: /* @__PURE__ */ new Map(),
      loading: true,
      error: null,
      hasOlder: false,
      loadingOlder: false,
      snapshot: null
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
        })
      );
      r.updates.clear();
    } catch (err) {
      if (this.rooms.get(id) !== r) return;
      const e = asChatError(err);
      if (e.code === "not_found") {
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
  closeChat(id) {
    if (!this.rooms.delete(id)) return;
    this.roomsSnapshot = null;
    this.changed();
  }
  /** loadOlder fetches the page of messages before the oldest held. */
  async loadOlder(id) {
    const r = this.rooms.get(id);
    if (!r || r.loading || r.loadingOlder || !r.hasOlder || r.msgs.size === 0) return;
    r.loadingOlder = true;
    this.changed(id);
    try {
      const page = await this.client.listMessages(id, {
        limit: this.messagePageSize,
        before: Math.min(...r.msgs.keys())
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
  async createChat(req) {
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
  send(chatId, text, metadata = null, o = {}) {
    const p = Object.freeze({
      chat_id: chatId,
      client_id: this.client.newClientId(),
      text,
      metadata,
      attachments: Object.freeze([...o.attachments ?? []]),
      created_at: (/* @__PURE__ */ new Date()).toISOString(),
      status: "pending",
      error: null,
      ...o.replyTo ? { reply_to: o.replyTo } : {},
      ...o.mentions?.length ? { mentions: Object.freeze([...o.mentions]) } : {}
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
  async sendFiles(chatId, files, text = "") {
    const ids = [];
    for (const f of files) ids.push((await this.client.uploadAttachment(chatId, f)).id);
    return this.send(chatId, text, null, { attachments: ids });
  }
  /** retry sends a failed message again, with its client_id. */
  retry(chatId, clientId) {
    const p = this.pending.get(chatId)?.get(clientId);
    if (!p || p.status !== "failed") return;
    const again = Object.freeze({ ...p, status: "pending", error: null });
    this.setPending(again);
    void this.deliver(again);
  }
  /** discard drops a failed message. */
  discard(chatId, clientId) {
    this.settlePending(chatId, clientId);
  }
  async deliver(p) {
    try {
      const req = {
        text: p.text,
        client_id: p.client_id,
        metadata: p.metadata,
        ...p.reply_to ? { reply_to: p.reply_to } : {},
        ...p.mentions ? { mentions: [...p.mentions] } : {}
      };
      if (p.attachments.length > 0) req.attachments = [...p.attachments];
      const m = await this.client.sendMessage(p.chat_id, req);
      this.settlePending(p.chat_id, p.client_id);
      const r = this.rooms.get(p.chat_id);
      if (r) this.putMessages(p.chat_id, r, [m]);
      const c = this.chats.get(p.chat_id);
      if (c && (!c.last_message || m.seq > c.last_message.seq)) {
        this.chats.set(c.id, Object.freeze({ ...c, last_message: m, last_activity_at: m.created_at }));
        this.chatsChanged();
      }
    } catch (err) {
      if (this.pending.get(p.chat_id)?.get(p.client_id)?.status !== "pending") return;
      this.setPending(Object.freeze({ ...p, status: "failed", error: asChatError(err) }));
    }
  }
  setPending(p) {
    let m = this.pending.get(p.chat_id);
    if (!m) {
      m = /* @__PURE__ */ new Map();
      this.pending.set(p.chat_id, m);
    }
    m.set(p.client_id, p);
    this.changed(p.chat_id);
  }
  settlePending(chatId, clientId) {
    const m = this.pending.get(chatId);
    if (!m?.delete(clientId)) return;
    if (m.size === 0) this.pending.delete(chatId);
    this.changed(chatId);
  }
  /** editMessage changes the text of one of the user's messages. */
  async editMessage(chatId, seq, text) {
    const m = await this.client.editMessage(chatId, seq, text);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }
  /** deleteMessage deletes one of the user's messages; it stays as a tombstone. */
  async deleteMessage(chatId, seq) {
    const m = await this.client.deleteMessage(chatId, seq);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }
  /** react adds the user's reaction to a message; reacting twice is one reaction. */
  async react(chatId, seq, emoji) {
    const m = await this.client.react(chatId, seq, emoji);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }
  /** unreact takes the user's reaction back. */
  async unreact(chatId, seq, emoji) {
    const m = await this.client.unreact(chatId, seq, emoji);
    const r = this.rooms.get(chatId);
    if (r) this.putMessages(chatId, r, [m]);
  }
  /** addMember adds a user to a group. */
  async addMember(chatId, userId) {
    this.mergeChat(await this.client.addMember(chatId, userId));
  }
  /** removeMember removes a user from a group; removing the user leaves it. */
  async removeMember(chatId, userId) {
    await this.client.removeMember(chatId, userId);
    if (userId === this.me) this.dropChat(chatId);
  }
  /**
   * loadPresence reads who of a chat's members is online. openChat calls
   * it, and so does every reconnect for the open chats; `presence` events
   * keep it current in between. A server without presence answers
   * `not_implemented` once, and the store stops asking.
   */
  async loadPresence(chatId) {
    let after = "";
    while (this.presenceAvailable) {
      let page;
      try {
        page = await this.client.listPresence(chatId, { after, limit: 200 });
      } catch (err) {
        if (asChatError(err).code === "not_implemented") this.presenceAvailable = false;
        return;
      }
      this.putPresence(page.presence);
      const last = page.presence[page.presence.length - 1];
      if (!page.has_more || !last) return;
      after = last.user_id;
    }
  }
  putPresence(ps) {
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
  async setRole(chatId, userId, role) {
    await this.client.setRole(chatId, userId, role);
  }
  /** ban removes a user from a group and keeps them out until unbanned. */
  async ban(chatId, userId) {
    await this.client.ban(chatId, userId);
  }
  /** updateChat renames a group or changes its metadata. */
  async updateChat(chatId, req) {
    this.mergeChat(await this.client.updateChat(chatId, req));
  }
  /** updateSettings changes the user's own settings of a chat (pinned chats sort first). */
  async updateSettings(chatId, req) {
    const settings = await this.client.updateSettings(chatId, req);
    const c = this.chats.get(chatId);
    if (!c) return;
    this.chats.set(chatId, Object.freeze({ ...c, settings }));
    this.chatsChanged();
  }
  /** typing tells the others the user is typing; call it on every keystroke. */
  typingIn(chatId) {
    this.client.typing(chatId);
  }
  /**
   * markRead marks an open chat read up to the highest seq the store
   * holds of it. Call it while the chat is on screen (and the page
   * visible): after opening it and after each change. It sends nothing
   * when nothing is unread, and one request at a time per chat.
   */
  async markRead(chatId) {
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
      return;
    } finally {
      this.marking.delete(chatId);
    }
    const now = this.chats.get(chatId);
    const room = this.rooms.get(chatId);
    if (now && room && now.unread_count > 0 && Math.max(now.last_seq, ...room.msgs.keys()) > seq) {
      await this.markRead(chatId);
    }
  }
};
function chatTitle(c, me) {
  const others = c.members.filter((m) => m.user_id !== me).map((m) => m.display_name || m.user_id);
  if (c.kind === "group") return c.title || others.join(", ") || "Just you";
  return others[0] ?? me;
}
function seenBy(c, messages, me) {
  const out = /* @__PURE__ */ new Map();
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
function withReaction(m, ev, me) {
  const { emoji, count } = ev.reaction;
  const list = [...m.reactions ?? []];
  const i = list.findIndex((x) => x.emoji === emoji);
  const mine = ev.user_id === me ? ev.type === "reaction.added" : list[i]?.me ?? false;
  if (count <= 0) {
    if (i >= 0) list.splice(i, 1);
  } else if (i >= 0) {
    list[i] = { emoji, count, me: mine };
  } else {
    list.push({ emoji, count, me: mine });
  }
  return { ...m, reactions: list };
}
function keepCounters(m, held, created) {
  if (!held) return m;
  if (!created) {
    return {
      ...m,
      reactions: held.reactions,
      reply_count: held.reply_count,
      last_reply_seq: held.last_reply_seq,
      last_reply_at: held.last_reply_at
    };
  }
  const mine = new Set((held.reactions ?? []).filter((x) => x.me).map((x) => x.emoji));
  if (!mine.size || !m.reactions) return m;
  return { ...m, reactions: m.reactions.map((x) => ({ ...x, me: mine.has(x.emoji) })) };
}
function newer(b, a) {
  if (!a) return true;
  if (a.deleted) return false;
  if (b.deleted) return true;
  const edited = (m) => m.edited_at ? Date.parse(m.edited_at) : 0;
  return edited(b) >= edited(a);
}
function readSeq(c, user) {
  return c.members.find((m) => m.user_id === user)?.last_read_seq ?? 0;
}
function pickActivity(c) {
  return {
    last_seq: c.last_seq,
    last_activity_at: c.last_activity_at,
    last_message: c.last_message,
    members: c.members,
    unread_count: c.unread_count,
    title: c.title,
    metadata: c.metadata,
    settings: c.settings
  };
}
function asChatError(err) {
  return err instanceof ChatError ? err : new ChatError(0, "network", err instanceof Error ? err.message : String(err));
}

// src/search.ts
function highlightSegments(text, highlights) {
  const out = [];
  let at = 0;
  for (const r of highlights) {
    const start = Math.max(at, Math.min(r.start, text.length));
    const end = Math.max(start, Math.min(r.end, text.length));
    if (end === start) continue;
    if (start > at) out.push({ text: text.slice(at, start), match: false });
    out.push({ text: text.slice(start, end), match: true });
    at = end;
  }
  if (at < text.length || out.length === 0) out.push({ text: text.slice(at), match: false });
  return out;
}
export {
  ChatClient,
  ChatError,
  ChatStore,
  MemoryStorage,
  backoffDelay,
  browserStorage,
  chatTitle,
  closePolicy,
  describeError,
  highlightSegments,
  newer,
  seenBy,
  withReaction
};
