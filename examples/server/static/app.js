// The embedchat demo client: plain JavaScript, no build step, no libraries.
//
// It is also a worked example of a client of the chat protocol
// (docs/protocol.md):
//   - REST for chats and history; one WebSocket for live events;
//   - the last seq seen per chat is kept, and every (re)connection resumes
//     from it, so nothing is missed or shown twice across reconnects;
//   - "resync" means "too far behind": refetch the chat;
//   - an event for an unknown chat means "fetch that chat by id";
//   - messages are kept by their own seq and replaced by edits and deletes;
//   - a chat's unread_count and members' read markers come from the API and
//     are kept current by events; the open chat is marked read as it is seen.
//
// Sign-in here is NOT real authentication: the server believes whatever
// name the X-User header or the "user" cookie claims.
//
// All user text reaches the page through textContent, never as markup.
'use strict';

const API = document.querySelector('meta[name="chat-api"]').content;
const WS_PATH = document.querySelector('meta[name="chat-ws"]').content;
const PAGE_SIZE = 50;
const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 4000;
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];
const SEND_RETRIES = 4;

const $ = (id) => document.getElementById(id);

const state = {
  me: '',
  chats: new Map(),     // chat id → chat object from the API, kept current by events
  cursor: null,         // next_cursor of the chat list; null until loaded
  positions: new Map(), // chat id → last seq seen, sent in every resume
  histories: new Map(), // chat id → loaded messages, see newHistory
  open: '',             // id of the chat on screen
  editing: null,        // { seq, form } of the own message being edited in the open chat
  typing: new Map(),    // chat id → Map(user id → time the notice expires)
  ws: null,
  attempt: 0,           // reconnect attempts since the last "resumed"
  lastTypingSent: 0,
  fetching: new Map(),  // chat id → whether to fetch it again when the fetch in flight ends
  marking: new Set(),   // chat ids with a POST /read in flight
};

// ---- sign-in (demo only) ----

function init() {
  const params = new URLSearchParams(location.search);
  // ?as=name signs the tab in directly, for scripted demos and screenshots.
  const name = params.get('as') || sessionStorage.getItem('user') || '';
  if (params.has('as')) history.replaceState(null, '', location.pathname);
  bindUI();
  if (name.trim()) {
    signIn(name);
  } else {
    $('signin-name').value = cookieName();
    $('signin').hidden = false;
    $('signin-name').focus();
  }
}

function signIn(name) {
  state.me = name.trim();
  // The name is kept per tab (sessionStorage) so two tabs can be two users.
  sessionStorage.setItem('user', state.me);
  setUserCookie();
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me').hidden = false;
  $('conn').hidden = false;
  $('me-name').textContent = state.me;
  loadChats(false);
  connect();
}

// Cookies are shared by every tab of the browser, so the cookie is set
// again right before each WebSocket handshake, which cannot carry headers.
function setUserCookie() {
  document.cookie = 'user=' + encodeURIComponent(state.me) + '; path=/; SameSite=Strict';
}

function cookieName() {
  for (const part of document.cookie.split('; ')) {
    if (part.startsWith('user=')) {
      try { return decodeURIComponent(part.slice(5)); } catch { return ''; }
    }
  }
  return '';
}

// ---- REST ----

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  // Headers must be Latin-1, so the name travels percent-encoded.
  const opts = { method, headers: { 'X-User': encodeURIComponent(state.me) } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, opts);
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const e = (data && data.error) || {};
    let msg = e.message || resp.statusText;
    if (resp.status === 429 && resp.headers.get('Retry-After')) msg += ' (in ' + resp.headers.get('Retry-After') + ' s)';
    throw new APIError(resp.status, e.code || '', msg);
  }
  return data;
}

const chatPath = (id) => '/chats/' + encodeURIComponent(id);

// loadChats fetches the first page of chats, or the next one when more is
// true. A first page that is also the last is the complete list, so chats
// missing from it are gone (the in-memory server restarted) and are dropped.
async function loadChats(more) {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && state.cursor) q.set('cursor', state.cursor);
  let page;
  try {
    page = await api('GET', '/chats?' + q);
  } catch (err) {
    showError('form-error', 'Could not load chats: ' + err.message);
    return;
  }
  for (const c of page.chats) mergeChat(c);
  if (!more && !page.next_cursor) {
    const ids = new Set(page.chats.map((c) => c.id));
    for (const id of [...state.chats.keys()]) {
      if (!ids.has(id)) forgetChat(id);
    }
  }
  if (more || state.cursor === null) state.cursor = page.next_cursor;
  renderChats();
}

// fetchChat refreshes a chat from the server: one named by an event we
// cannot apply, or whose unread count we cannot work out ourselves.
async function fetchChat(id) {
  if (state.fetching.has(id)) {
    state.fetching.set(id, true); // the answer in flight may predate what we learnt
    return;
  }
  state.fetching.set(id, false);
  try {
    mergeChat(await api('GET', chatPath(id)));
    renderChats();
  } catch (err) {
    if (err.status === 404) forgetChat(id);
  } finally {
    const again = state.fetching.get(id);
    state.fetching.delete(id);
    if (again && state.chats.has(id)) fetchChat(id);
  }
}

function mergeChat(c) {
  const old = state.chats.get(c.id);
  if (old) {
    // Live events may be newer than the response that carried c.
    if (old.last_seq > c.last_seq) {
      for (const k of ['last_seq', 'last_activity_at', 'last_message', 'members', 'unread_count']) c[k] = old[k];
    }
    // Read markers only move forward; read events and responses race.
    for (const m of c.members) m.last_read_seq = Math.max(m.last_read_seq, readSeq(old, m.user_id));
  }
  state.chats.set(c.id, c);
  // A loaded chat's position advances only with messages it holds, so a
  // resume never skips messages it lacks.
  if (!state.histories.has(c.id)) advance(c.id, c.last_seq);
  if (c.id === state.open) renderHeader();
}

function forgetChat(id) {
  state.chats.delete(id);
  state.positions.delete(id);
  state.histories.delete(id);
  state.typing.delete(id);
  if (state.open === id) closeChat();
}

function advance(id, seq) {
  if (seq > (state.positions.get(id) || 0)) state.positions.set(id, seq);
}

function readSeq(c, user) {
  const m = c.members.find((x) => x.user_id === user);
  return m ? m.last_read_seq : 0;
}

// highestSeen is the highest seq this tab has seen of a chat.
function highestSeen(id) {
  const c = state.chats.get(id);
  const h = state.histories.get(id);
  return Math.max(c ? c.last_seq : 0, h && h.msgs.size ? Math.max(...h.msgs.keys()) : 0);
}

// newer reports whether message b is a later state of a message than a:
// a deletion is final, and edits are ordered by edited_at.
function newer(b, a) {
  if (!a) return true;
  if (a.deleted) return false;
  if (b.deleted) return true;
  const edited = (m) => (m.edited_at ? Date.parse(m.edited_at) : 0);
  return edited(b) >= edited(a);
}

// ---- history ----

// A history holds a chat's messages by seq. It exists from the moment a
// load starts, so that live events arriving while the page is fetched are
// kept too: whatever the fetch misses was stored after it started and
// arrives live (or in the next resume's replay). Edits and deletes of
// messages it does not hold yet wait in updates while the first page
// loads, since that page may predate them.
function newHistory() {
  return { msgs: new Map(), updates: new Map(), hasOlder: false, loading: true };
}

async function loadNewest(id, h = newHistory()) {
  state.histories.set(id, h);
  if (id === state.open) renderMessages('bottom');
  try {
    const page = await api('GET', chatPath(id) + '/messages?limit=' + PAGE_SIZE);
    if (state.histories.get(id) !== h) return; // replaced by a resync
    h.hasOlder = page.has_more;
    h.loading = false;
    addMessages(id, page.messages.map((m) => {
      const u = h.updates.get(m.seq);
      return u && newer(u, m) ? u : m;
    }), 'bottom');
    h.updates.clear();
    markRead();
  } catch (err) {
    if (state.histories.get(id) !== h) return;
    if (err.status === 404) {
      forgetChat(id);
      return;
    }
    state.histories.delete(id);
    if (id === state.open) showError('send-error', 'Could not load messages: ' + err.message);
  }
}

async function loadOlder() {
  const id = state.open;
  const h = state.histories.get(id);
  if (!h || h.loading || h.msgs.size === 0) return;
  const oldest = Math.min(...h.msgs.keys());
  $('load-older').disabled = true;
  try {
    const page = await api('GET', chatPath(id) + '/messages?limit=' + PAGE_SIZE + '&before=' + oldest);
    if (state.histories.get(id) !== h) return;
    h.hasOlder = page.has_more;
    addMessages(id, page.messages, 'keep');
  } catch (err) {
    showError('send-error', 'Could not load older messages: ' + err.message);
  } finally {
    $('load-older').disabled = false;
  }
}

// addMessages puts messages from the API into the chat's history, each
// replacing an older state of itself. scroll is 'bottom', 'keep' (older
// messages were added above), 'follow' (stay at the bottom if already
// there) or undefined (leave the scroll alone).
function addMessages(id, msgs, scroll) {
  storeMessages(id, msgs);
  if (id === state.open) renderMessages(scroll);
}

function storeMessages(id, msgs) {
  const h = state.histories.get(id);
  const c = state.chats.get(id);
  for (const m of msgs) {
    if (h && newer(m, h.msgs.get(m.seq))) {
      h.msgs.set(m.seq, m);
      advance(id, m.seq);
    }
    // A chat's last_seq moves only with events (see applyEvent), but the
    // list may show a message the sender's own response brought first.
    const last = c && c.last_message;
    if (c && (!last || m.seq > last.seq || (m.seq === last.seq && newer(m, last)))) {
      c.last_message = m;
      if (Date.parse(m.created_at) > Date.parse(c.last_activity_at)) c.last_activity_at = m.created_at;
    }
  }
}

// ---- WebSocket ----

function connect() {
  setConn('connecting', 'connecting…');
  setUserCookie();
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(scheme + location.host + WS_PATH);
  state.ws = ws;
  ws.onopen = () => {
    // The first frame must be resume: the last seq seen per chat.
    ws.send(JSON.stringify({ type: 'resume', positions: Object.fromEntries(state.positions) }));
  };
  ws.onmessage = (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    handleEvent(ev);
  };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;
    state.ws = null;
    reconnectLater(e.code);
  };
}

function reconnectLater(code) {
  const base = RECONNECT_DELAYS_MS[Math.min(state.attempt, RECONNECT_DELAYS_MS.length - 1)];
  // Jitter spreads the reconnects of many clients after a server restart.
  const delay = Math.round(base * (0.7 + 0.6 * Math.random()));
  state.attempt++;
  setConn('offline', 'offline (' + code + '), retrying in ' + Math.ceil(delay / 1000) + ' s');
  setTimeout(() => { if (state.me) connect(); }, delay);
}

function handleEvent(ev) {
  switch (ev.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted':
    case 'member.added':
    case 'member.removed':
      onPersisted(ev);
      break;
    case 'chat.created':
      // Its chat carries no unread count: a chat we know is better as is.
      if (!state.chats.has(ev.chat_id)) {
        mergeChat(ev.chat);
        renderChats();
      }
      break;
    case 'read': onRead(ev); break;
    case 'typing': onTyping(ev); break;
    case 'resync': onResync(ev.chat_id); break;
    case 'resumed':
      state.attempt = 0;
      setConn('live', 'live');
      // Chats created, joined or left while we were away have no replay:
      // list them again.
      loadChats(false);
      break;
    case 'error':
      console.warn('chat server error frame:', ev.code, ev.message);
      break;
  }
}

// onPersisted applies an event with a seq. Events of a chat arrive in seq
// order without gaps after the resumed position, so the position can
// follow every one of them.
function onPersisted(ev) {
  const id = ev.chat_id;
  const c = state.chats.get(id);
  if (ev.type === 'member.removed' && ev.user_id === state.me) {
    forgetChat(id); // the last event of this chat we get
    renderChats();
    return;
  }
  if (!c) fetchChat(id);
  else applyEvent(c, ev);
  advance(id, ev.seq);

  const m = ev.message;
  const h = state.histories.get(id);
  if (m && h) {
    if (ev.type === 'message.created' || h.msgs.has(m.seq)) {
      storeMessages(id, [m]);
    } else if (h.loading) {
      h.updates.set(m.seq, m);
    }
  }
  if (ev.type === 'message.created') {
    const typers = state.typing.get(id);
    if (typers) typers.delete(m.sender);
    renderTyping();
  }
  if (id === state.open) {
    renderHeader();
    renderMessages('follow');
    markRead();
  }
  renderChats();
}

// applyEvent brings the chat object up to date with ev, unless it already
// is: last_seq says which events the object (and its unread_count) reflect.
function applyEvent(c, ev) {
  if (ev.seq <= c.last_seq) return;
  c.last_seq = ev.seq;
  const m = ev.message;
  const unread = m && m.sender !== state.me && m.seq > readSeq(c, state.me);
  switch (ev.type) {
    case 'message.created':
      // Counted even if it arrives as a tombstone: its message.deleted follows.
      if (unread) c.unread_count++;
      if (!c.last_message || m.seq >= c.last_message.seq) c.last_message = m;
      c.last_activity_at = m.created_at;
      break;
    case 'message.deleted':
      if (unread) c.unread_count = Math.max(0, c.unread_count - 1);
      // fall through: the tombstone replaces the message
    case 'message.updated':
      if (c.last_message && c.last_message.seq === m.seq && newer(m, c.last_message)) c.last_message = m;
      break;
    case 'member.added':
      if (!c.members.some((x) => x.user_id === ev.user_id)) {
        c.members.push({ user_id: ev.user_id, last_read_seq: ev.seq });
        c.members.sort((a, b) => (a.user_id < b.user_id ? -1 : 1));
      }
      break;
    case 'member.removed':
      c.members = c.members.filter((x) => x.user_id !== ev.user_id);
      break;
  }
}

// onRead moves a member's read marker. Read events may arrive out of order,
// so only the highest read_seq counts.
function onRead(ev) {
  const c = state.chats.get(ev.chat_id);
  const m = c && c.members.find((x) => x.user_id === ev.user_id);
  if (!m || ev.read_seq <= m.last_read_seq) return;
  m.last_read_seq = ev.read_seq;
  if (ev.user_id === state.me) {
    // Read here or on another device: what is left unread only the server
    // can count, unless it is nothing.
    if (ev.read_seq >= c.last_seq) c.unread_count = 0;
    else fetchChat(c.id);
    renderChats();
  }
  if (ev.chat_id === state.open) renderMessages();
}

// onResync refetches a chat the server could not replay. A loaded chat
// gets a fresh history at once, so live events from here on are kept.
async function onResync(id) {
  const h = state.histories.has(id) ? newHistory() : null;
  state.positions.delete(id);
  if (h) state.histories.set(id, h);
  try {
    mergeChat(await api('GET', chatPath(id)));
  } catch (err) {
    if (err.status === 404) forgetChat(id);
    return;
  }
  renderChats();
  if (h && state.histories.get(id) === h) loadNewest(id, h);
}

function onTyping(ev) {
  if (ev.user_id === state.me) return;
  let typers = state.typing.get(ev.chat_id);
  if (!typers) {
    typers = new Map();
    state.typing.set(ev.chat_id, typers);
  }
  typers.set(ev.user_id, Date.now() + TYPING_SHOW_MS);
  renderTyping();
  setTimeout(renderTyping, TYPING_SHOW_MS + 50);
}

function sendTyping() {
  const now = Date.now();
  if (!state.open || now - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  state.lastTypingSent = now;
  state.ws.send(JSON.stringify({ type: 'typing', chat_id: state.open }));
}

// ---- actions ----

function openChat(id) {
  if (state.open !== id) state.editing = null;
  state.open = id;
  $('no-chat').hidden = true;
  $('chat-view').hidden = false;
  $('send-error').hidden = true;
  renderHeader();
  renderChats();
  renderTyping();
  if (state.histories.has(id)) {
    renderMessages('bottom');
    markRead();
  } else {
    loadNewest(id);
  }
  $('send-text').focus();
}

function closeChat() {
  state.open = '';
  state.editing = null;
  $('chat-view').hidden = true;
  $('no-chat').hidden = false;
  renderChats();
}

async function createChat(body) {
  $('form-error').hidden = true;
  try {
    const c = await api('POST', '/chats', body);
    mergeChat(c);
    openChat(c.id);
    return true;
  } catch (err) {
    showError('form-error', err.message);
    return false;
  }
}

// sendMessage retries failures that may be transient with the same
// client_id, so a retry of a send that did get through is not stored twice.
async function sendMessage(id, text) {
  const body = { text, client_id: newClientID() };
  for (let attempt = 0; ; attempt++) {
    try {
      return await api('POST', chatPath(id) + '/messages', body);
    } catch (err) {
      const transient = !(err instanceof APIError) || err.status >= 500;
      if (!transient || attempt >= SEND_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
}

// markRead tells the server that the user has seen the open chat up to
// the highest seq this tab has seen, while the tab is visible. One request
// at a time per chat; what arrives meanwhile is marked when it returns.
async function markRead() {
  const id = state.open;
  const c = state.chats.get(id);
  const h = state.histories.get(id);
  if (!c || !h || h.loading || document.visibilityState !== 'visible' || state.marking.has(id)) return;
  const seq = highestSeen(id);
  // Only others' messages are ever unread: with none, there is nothing to mark.
  if (c.unread_count === 0 || seq <= readSeq(c, state.me)) return;
  state.marking.add(id);
  try {
    const r = await api('POST', chatPath(id) + '/read', { seq });
    onRead({ chat_id: id, user_id: state.me, read_seq: r.read_seq });
  } catch (err) {
    console.warn('marking read failed:', err.message);
    return;
  } finally {
    state.marking.delete(id);
  }
  if (state.open === id && highestSeen(id) > seq) markRead();
}

function startEdit(m) {
  const form = el('form', 'edit');
  const input = el('input');
  input.value = m.text;
  input.required = true;
  const save = el('button', '', 'Save');
  save.type = 'submit';
  const cancel = el('button', 'link', 'cancel');
  cancel.type = 'button';
  form.append(input, save, cancel);
  const id = state.open;
  const stop = () => {
    state.editing = null;
    renderMessages();
  };
  cancel.addEventListener('click', stop);
  input.addEventListener('keydown', (e) => { if (e.key === 'Escape') stop(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (input.value === m.text) return stop();
    save.disabled = true;
    try {
      const edited = await api('PATCH', chatPath(id) + '/messages/' + m.seq, { text: input.value });
      if (state.editing && state.editing.form === form) state.editing = null;
      addMessages(id, [edited]);
    } catch (err) {
      // 409: it was deleted meanwhile; 422: the server's moderation said no.
      showError('send-error', 'Not edited: ' + err.message);
    } finally {
      save.disabled = false;
    }
  });
  state.editing = { seq: m.seq, form };
  $('send-error').hidden = true;
  renderMessages();
  input.focus();
}

async function deleteMessage(m) {
  if (!confirm('Delete this message?')) return;
  const id = state.open;
  try {
    addMessages(id, [await api('DELETE', chatPath(id) + '/messages/' + m.seq)]);
  } catch (err) {
    showError('send-error', 'Not deleted: ' + err.message);
  }
}

async function addMember(id, user) {
  $('send-error').hidden = true;
  try {
    mergeChat(await api('POST', chatPath(id) + '/members', { user_id: user }));
    renderChats();
    return true;
  } catch (err) {
    showError('send-error', 'Could not add ' + user + ': ' + err.message);
    return false;
  }
}

async function leaveChat(id) {
  if (!confirm('Leave this group?')) return;
  try {
    await api('DELETE', chatPath(id) + '/members/' + encodeURIComponent(state.me));
    forgetChat(id);
    renderChats();
  } catch (err) {
    showError('send-error', 'Could not leave: ' + err.message);
  }
}

function newClientID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function bindUI() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('signin-name').value.trim();
    if (name) signIn(name);
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem('user');
    location.reload();
  });
  $('direct-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('direct-name').value.trim();
    if (name && await createChat({ kind: 'direct', members: [name] })) $('direct-name').value = '';
  });
  $('group-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const members = $('group-members').value.split(',').map((s) => s.trim()).filter(Boolean);
    const title = $('group-title').value.trim();
    if (await createChat({ kind: 'group', title, members })) {
      $('group-members').value = '';
      $('group-title').value = '';
    }
  });
  $('more-chats').addEventListener('click', () => loadChats(true));
  $('add-member-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('add-member-name').value.trim();
    if (name && await addMember(state.open, name)) $('add-member-name').value = '';
  });
  $('leave').addEventListener('click', () => leaveChat(state.open));
  document.addEventListener('visibilitychange', () => {
    markRead();
    renderChats();
  });
  $('load-older').addEventListener('click', loadOlder);
  $('send-text').addEventListener('input', sendTyping);
  $('send-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('send-text');
    const text = input.value;
    const id = state.open;
    if (!text.trim() || !id) return;
    input.value = '';
    $('send-error').hidden = true;
    try {
      const m = await sendMessage(id, text);
      addMessages(id, [m], 'bottom');
      renderChats();
    } catch (err) {
      showError('send-error', 'Not sent: ' + err.message);
      if (!input.value) input.value = text;
    }
  });
}

// ---- rendering (textContent only) ----

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function others(c) {
  return c.members.map((m) => m.user_id).filter((u) => u !== state.me);
}

function displayName(m) {
  return m.display_name || m.user_id;
}

function chatName(c) {
  if (c.kind === 'group') return c.title || others(c).join(', ') || 'just you';
  return others(c)[0] || state.me;
}

function formatTime(iso) {
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

function preview(m) {
  if (!m) return 'no messages yet';
  return (m.sender === state.me ? 'you' : m.sender) + ': ' + (m.deleted ? 'message deleted' : m.text);
}

function renderChats() {
  const chats = [...state.chats.values()].sort((a, b) =>
    (Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at)) || (a.id < b.id ? 1 : -1));
  // The open chat is marked read as it is seen, so its count would only flicker.
  const seeing = document.visibilityState === 'visible' ? state.open : '';
  const items = chats.map((c) => {
    const li = el('li');
    if (c.id === state.open) li.classList.add('active');
    const b = el('button');
    b.type = 'button';
    const top = el('span', 'top');
    top.append(el('span', 'name', chatName(c)), el('span', 'time', formatTime(c.last_activity_at)));
    if (c.unread_count > 0 && c.id !== seeing) {
      top.append(el('span', 'badge', String(c.unread_count)));
      li.classList.add('unread');
    }
    b.append(top, el('span', 'sub', preview(c.last_message)));
    b.addEventListener('click', () => openChat(c.id));
    li.append(b);
    return li;
  });
  $('chat-list').replaceChildren(...items);
  $('more-chats').hidden = !state.cursor;
}

function renderHeader() {
  const c = state.chats.get(state.open);
  if (!c) return;
  $('chat-title').textContent = chatName(c);
  $('chat-members').textContent = (c.kind === 'group' ? 'group' : 'direct') +
    ' · members: ' + c.members.map(displayName).join(', ');
  $('add-member-form').hidden = c.kind !== 'group';
}

function renderMessages(scroll) {
  const box = $('messages');
  const h = state.histories.get(state.open);
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const msgs = h ? [...h.msgs.values()].sort((a, b) => a.seq - b.seq) : [];
  const c = state.chats.get(state.open);
  const seen = c ? seenBy(c, msgs) : new Map();
  const edit = state.editing;
  const editFocused = edit && edit.form.contains(document.activeElement);
  const items = msgs.map((m) => renderMessage(m, seen.get(m.seq)));
  if (h && h.loading && items.length === 0) items.push(el('li', 'placeholder', 'loading…'));
  $('message-list').replaceChildren(...items);
  // Re-rendering detaches the edit box; give its focus back.
  if (editFocused && edit.form.isConnected) edit.form.querySelector('input').focus();
  $('load-older').hidden = !h || h.loading || !h.hasOlder;
  if (scroll === 'bottom' || (scroll === 'follow' && atBottom)) {
    box.scrollTop = box.scrollHeight;
  } else if (scroll === 'keep') {
    box.scrollTop = box.scrollHeight - fromBottom;
  }
}

function renderMessage(m, seen) {
  const mine = m.sender === state.me;
  const li = el('li', 'msg' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : ''));
  const meta = el('div', 'meta', m.sender + ' · ' + formatTime(m.created_at) + (m.edited_at && !m.deleted ? ' · edited' : ''));
  const editing = !m.deleted && state.editing && state.editing.seq === m.seq;
  if (mine && !m.deleted && !editing) {
    const edit = el('button', 'link action', 'edit');
    edit.type = 'button';
    edit.addEventListener('click', () => startEdit(m));
    const del = el('button', 'link action', 'delete');
    del.type = 'button';
    del.addEventListener('click', () => deleteMessage(m));
    meta.append(edit, del);
  }
  li.append(meta);
  if (m.deleted) li.append(el('div', 'text', 'message deleted'));
  else if (editing) li.append(state.editing.form);
  else li.append(el('div', 'text', m.text));
  if (seen) li.append(el('div', 'seen', 'seen by ' + seen.join(', ')));
  return li;
}

// seenBy maps a message's seq to the other members whose read marker is at
// it, or past it but short of the next message: each member's receipt
// shows once, under the last message they have read.
function seenBy(c, msgs) {
  const out = new Map();
  for (const member of c.members) {
    if (member.user_id === state.me) continue;
    let at = 0;
    for (const m of msgs) {
      if (m.seq > member.last_read_seq) break;
      at = m.seq;
    }
    if (!at) continue;
    if (!out.has(at)) out.set(at, []);
    out.get(at).push(displayName(member));
  }
  return out;
}

function renderTyping() {
  const typers = state.typing.get(state.open);
  const now = Date.now();
  const names = [];
  if (typers) {
    for (const [user, until] of typers) {
      if (until > now) names.push(user);
      else typers.delete(user);
    }
  }
  $('typing').textContent =
    names.length === 0 ? '' :
    names.length === 1 ? names[0] + ' is typing…' :
    names.join(', ') + ' are typing…';
}

function setConn(s, text) {
  $('conn').dataset.state = s;
  $('conn').textContent = text;
}

function showError(id, text) {
  $(id).textContent = text;
  $(id).hidden = false;
}

init();
