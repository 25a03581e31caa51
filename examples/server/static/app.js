// The embedchat demo client: plain JavaScript, no build step, no libraries.
//
// It is also a worked example of a client of the chat protocol
// (docs/protocol.md):
//   - REST for chats and history; one WebSocket for live events;
//   - the last seq seen per chat is kept, and every (re)connection resumes
//     from it, so nothing is missed or shown twice across reconnects;
//   - "resync" means "too far behind": refetch the chat;
//   - an event for an unknown chat means "fetch that chat by id".
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
  chats: new Map(),     // chat id → chat object from the API
  cursor: null,         // next_cursor of the chat list; null until loaded
  positions: new Map(), // chat id → last seq seen, sent in every resume
  histories: new Map(), // chat id → loaded messages, see newHistory
  unread: new Set(),
  open: '',             // id of the chat on screen
  typing: new Map(),    // chat id → Map(user id → time the notice expires)
  ws: null,
  attempt: 0,           // reconnect attempts since the last "resumed"
  lastTypingSent: 0,
  fetching: new Set(),  // chat ids being fetched because an event named them
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
    throw new APIError(resp.status, e.code || '', e.message || resp.statusText);
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

async function fetchChat(id) {
  if (state.fetching.has(id)) return;
  state.fetching.add(id);
  try {
    mergeChat(await api('GET', chatPath(id)));
    renderChats();
  } catch (err) {
    if (err.status === 404) forgetChat(id);
  } finally {
    state.fetching.delete(id);
  }
}

function mergeChat(c) {
  const old = state.chats.get(c.id);
  // A live event may be newer than the response that carried c.
  if (old && old.last_seq > c.last_seq) {
    c.last_seq = old.last_seq;
    c.last_activity_at = old.last_activity_at;
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
  state.unread.delete(id);
  if (state.open === id) closeChat();
}

function advance(id, seq) {
  if (seq > (state.positions.get(id) || 0)) state.positions.set(id, seq);
}

// ---- history ----

// A history holds a chat's messages by seq. It exists from the moment a
// load starts, so that live events arriving while the page is fetched are
// kept too: whatever the fetch misses was stored after it started and
// arrives live (or in the next resume's replay).
function newHistory() {
  return { msgs: new Map(), hasOlder: false, loading: true };
}

async function loadNewest(id, h = newHistory()) {
  state.histories.set(id, h);
  if (id === state.open) renderMessages('bottom');
  try {
    const page = await api('GET', chatPath(id) + '/messages?limit=' + PAGE_SIZE);
    if (state.histories.get(id) !== h) return; // replaced by a resync
    h.hasOlder = page.has_more;
    h.loading = false;
    addMessages(id, page.messages, 'bottom');
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

// scroll is 'bottom', 'keep' (older messages were added above) or
// 'follow' (stay at the bottom if already there).
function addMessages(id, msgs, scroll) {
  const h = state.histories.get(id);
  for (const m of msgs) {
    if (h) {
      h.msgs.set(m.seq, m);
      advance(id, m.seq);
    }
    const c = state.chats.get(id);
    if (c && m.seq > c.last_seq) {
      c.last_seq = m.seq;
      c.last_activity_at = m.created_at;
    }
  }
  if (id === state.open) renderMessages(scroll);
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
    case 'message.created': onMessage(ev); break;
    case 'chat.created': mergeChat(ev.chat); renderChats(); break;
    case 'typing': onTyping(ev); break;
    case 'resync': onResync(ev.chat_id); break;
    case 'resumed':
      state.attempt = 0;
      setConn('live', 'live');
      // Chats created while we were away have no replay: list them again.
      loadChats(false);
      break;
    case 'error':
      console.warn('chat server error frame:', ev.code, ev.message);
      break;
  }
}

function onMessage(ev) {
  const m = ev.message;
  if (!state.chats.has(ev.chat_id)) fetchChat(ev.chat_id);
  if (!state.histories.has(ev.chat_id)) advance(ev.chat_id, m.seq);
  addMessages(ev.chat_id, [m], 'follow');
  if (m.sender !== state.me && ev.chat_id !== state.open) state.unread.add(ev.chat_id);
  const typers = state.typing.get(ev.chat_id);
  if (typers) typers.delete(m.sender);
  renderChats();
  renderTyping();
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
  state.open = id;
  state.unread.delete(id);
  $('no-chat').hidden = true;
  $('chat-view').hidden = false;
  $('send-error').hidden = true;
  renderHeader();
  renderChats();
  renderTyping();
  if (state.histories.has(id)) renderMessages('bottom');
  else loadNewest(id);
  $('send-text').focus();
}

function closeChat() {
  state.open = '';
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

function renderChats() {
  const chats = [...state.chats.values()].sort((a, b) =>
    a.last_activity_at === b.last_activity_at
      ? (a.id < b.id ? 1 : -1)
      : (a.last_activity_at < b.last_activity_at ? 1 : -1));
  const items = chats.map((c) => {
    const li = el('li');
    if (c.id === state.open) li.classList.add('active');
    if (state.unread.has(c.id)) li.classList.add('unread');
    const b = el('button');
    b.type = 'button';
    b.append(el('span', 'name', chatName(c)));
    const kind = c.kind === 'group' ? 'group · ' + c.members.length + ' members' : 'direct';
    b.append(el('span', 'sub', kind + ' · ' + formatTime(c.last_activity_at)));
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
  $('chat-members').textContent = 'members: ' + c.members.map((m) => m.user_id).join(', ');
}

function renderMessages(scroll) {
  const box = $('messages');
  const h = state.histories.get(state.open);
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const msgs = h ? [...h.msgs.values()].sort((a, b) => a.seq - b.seq) : [];
  const items = msgs.map((m) => {
    const li = el('li', m.sender === state.me ? 'msg mine' : 'msg');
    li.append(el('div', 'meta', m.sender + ' · ' + formatTime(m.created_at)));
    li.append(el('div', 'text', m.text));
    return li;
  });
  if (h && h.loading && items.length === 0) items.push(el('li', 'placeholder', 'loading…'));
  $('message-list').replaceChildren(...items);
  $('load-older').hidden = !h || h.loading || !h.hasOlder;
  if (scroll === 'bottom' || (scroll === 'follow' && atBottom)) {
    box.scrollTop = box.scrollHeight;
  } else if (scroll === 'keep') {
    box.scrollTop = box.scrollHeight - fromBottom;
  }
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
