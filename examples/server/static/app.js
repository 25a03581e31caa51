// The embedchat demo page, built on @embedchat/client (served as
// /embedchat.js, built from clients/js). The client does the protocol:
// resuming, reconnecting, dedupe, optimistic sends, read markers; this file
// only signs in (the demo's way), renders the store's snapshots and turns
// clicks into store calls.
//
// Sign-in here is NOT real authentication: the server believes whatever
// name the X-User header or the "user" cookie claims.
//
// All user text reaches the page through textContent, never as markup.
import { ChatClient, ChatStore, chatTitle, describeError, highlightSegments, seenBy } from './embedchat.js';

const API = document.querySelector('meta[name="chat-api"]').content;
const WS_PATH = document.querySelector('meta[name="chat-ws"]').content;

const $ = (id) => document.getElementById(id);

let me = '';
let store = null;
let open = '';        // the chat on screen, also in the URL hash so that a reload reopens it
let editing = null;   // { seq, form } while one of my messages is being edited
let replyingTo = null; // the message the next send replies to
let thread = null;    // { seq, messages } while a thread is shown

// The reactions a message offers with one click.
const QUICK_REACTIONS = ['👍', '❤️', '🎉'];
let lastRendered = null;
let myRole = '';      // my role in the open chat: owner, admin or member ('' in direct chats)
let search = null;    // { q, cursor, hits } of the search on screen

// ---- sign-in (demo only) ----

function init() {
  const params = new URLSearchParams(location.search);
  // ?as=name signs the tab in directly, for scripted demos and screenshots.
  const name = params.get('as') || sessionStorage.getItem('user') || '';
  if (params.has('as')) history.replaceState(null, '', location.pathname + location.hash);
  bindUI();
  if (name.trim()) {
    signIn(name.trim());
  } else {
    $('signin-name').value = cookieName();
    $('signin').hidden = false;
    $('signin-name').focus();
  }
}

function signIn(name) {
  me = name;
  // The name is kept per tab (sessionStorage) so two tabs can be two users.
  sessionStorage.setItem('user', me);
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me').hidden = false;
  $('conn').hidden = false;
  $('me-name').textContent = me;

  const client = new ChatClient({
    baseUrl: API,
    wsUrl: WS_PATH,
    userId: me,
    // Headers must be Latin-1, so the name travels percent-encoded.
    headers: { 'X-User': encodeURIComponent(me) },
    // A browser's WebSocket cannot carry headers: the demo's server reads
    // the cookie instead. Cookies are shared by the browser's tabs, so it
    // is set again right before each handshake.
    beforeConnect: setUserCookie,
  });
  store = new ChatStore(client);
  store.subscribe(render);
  store.start();
  window.addEventListener('online', () => client.reconnectNow());
  setInterval(renderConnection, 1000); // the countdown to the next attempt
  openFromHash();
  render();
}

function setUserCookie() {
  document.cookie = 'user=' + encodeURIComponent(me) + '; path=/; SameSite=Strict';
}

function cookieName() {
  for (const part of document.cookie.split('; ')) {
    if (part.startsWith('user=')) {
      try { return decodeURIComponent(part.slice(5)); } catch { return ''; }
    }
  }
  return '';
}

// ---- navigation: #/chat/<id> is the open chat ----

function openFromHash() {
  const m = /^#\/chat\/(.+)$/.exec(location.hash);
  const id = m ? decodeURIComponent(m[1]) : '';
  if (id === open) return;
  if (open) store.closeChat(open);
  open = id;
  editing = null;
  setReplyingTo(null);
  showThread(null);
  $('members-panel').hidden = true;
  $('chat-error').hidden = true;
  if (id) {
    store.openChat(id);
    $('send-text').focus();
  }
  render();
}

function openChat(id) {
  location.hash = '#/chat/' + encodeURIComponent(id);
}

function closeChat() {
  history.pushState(null, '', location.pathname);
  openFromHash();
}

// ---- actions ----

async function createChat(req, done) {
  $('form-error').hidden = true;
  try {
    const c = await store.createChat(req);
    done();
    openChat(c.id);
  } catch (err) {
    showError('form-error', describeError(err));
  }
}

async function act(what, fn) {
  $('chat-error').hidden = true;
  try {
    await fn();
    return true;
  } catch (err) {
    showError('chat-error', what + ': ' + describeError(err));
    return false;
  }
}

// ---- search: results are rendered as text, the matches in <mark> ----

async function runSearch(q, cursor) {
  const status = $('search-status');
  $('search-results').hidden = false;
  $('more-results').hidden = true;
  if (!cursor) {
    search = { q, cursor: '', hits: [] };
    $('search-list').replaceChildren();
  }
  status.textContent = 'Searching…';
  try {
    const page = await store.client.search(q, { cursor });
    if (!search || search.q !== q) return; // a newer search replaced this one
    search.hits.push(...page.hits);
    search.cursor = page.next_cursor;
    renderSearch();
  } catch (err) {
    if (err && err.code === 'not_implemented') {
      status.textContent = 'This server cannot search messages.';
      $('search-form').hidden = true;
    } else {
      status.textContent = 'Search failed: ' + describeError(err);
    }
  }
}

function renderSearch() {
  const s = store.getSnapshot();
  const titles = new Map(s.chats.map((c) => [c.id, chatTitle(c, me)]));
  const items = search.hits.map((hit) => {
    const m = hit.message;
    const li = el('li');
    li.dataset.chatId = m.chat_id;
    li.dataset.seq = String(m.seq);
    const b = el('button');
    b.type = 'button';
    const text = el('span', 'text');
    for (const seg of highlightSegments(m.text, hit.highlights)) text.append(el(seg.match ? 'mark' : 'span', '', seg.text));
    b.append(el('span', 'sub', (titles.get(m.chat_id) || 'chat') + ' · ' + m.sender + ' · ' + formatTime(m.created_at)), text);
    b.addEventListener('click', () => openChat(m.chat_id));
    li.append(b);
    return li;
  });
  $('search-list').replaceChildren(...items);
  $('search-status').textContent = search.hits.length === 0 ? 'No messages found.'
    : search.hits.length + (search.cursor ? '+' : '') + ' found';
  $('more-results').hidden = !search.cursor;
}

function closeSearch() {
  search = null;
  $('search-results').hidden = true;
  $('search-list').replaceChildren();
  $('search-q').value = '';
}

function startEdit(m) {
  const form = el('form', 'edit');
  const input = el('input');
  input.value = m.text;
  input.required = true;
  input.setAttribute('aria-label', 'edited message');
  const save = el('button', '', 'Save');
  save.type = 'submit';
  const cancel = el('button', 'link', 'cancel');
  cancel.type = 'button';
  form.append(input, save, cancel);
  const chatId = open;
  const stop = () => {
    editing = null;
    renderRoom(store.getSnapshot());
  };
  cancel.addEventListener('click', stop);
  input.addEventListener('keydown', (e) => { if (e.key === 'Escape') stop(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (input.value === m.text) return stop();
    save.disabled = true;
    if (await act('Not edited', () => store.editMessage(chatId, m.seq, input.value))) stop();
    save.disabled = false;
  });
  editing = { seq: m.seq, form };
  renderRoom(store.getSnapshot());
  input.focus();
}

function bindUI() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('signin-name').value.trim();
    if (name) signIn(name);
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem('user');
    location.hash = '';
    location.reload();
  });
  $('direct-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('direct-name').value.trim();
    if (name) createChat({ kind: 'direct', members: [name] }, () => { $('direct-name').value = ''; });
  });
  $('group-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const members = $('group-members').value.split(',').map((s) => s.trim()).filter(Boolean);
    const title = $('group-title').value.trim();
    createChat({ kind: 'group', title, members }, () => {
      $('group-members').value = '';
      $('group-title').value = '';
    });
  });
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('search-q').value.trim();
    if (q) runSearch(q, '');
  });
  $('search-close').addEventListener('click', closeSearch);
  $('more-results').addEventListener('click', () => { if (search) runSearch(search.q, search.cursor); });
  $('more-chats').addEventListener('click', () => store.loadMoreChats());
  $('back').addEventListener('click', closeChat);
  window.addEventListener('hashchange', openFromHash);
  $('members-toggle').addEventListener('click', () => {
    const panel = $('members-panel');
    panel.hidden = !panel.hidden;
    $('members-toggle').setAttribute('aria-expanded', String(!panel.hidden));
  });
  $('add-member-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('add-member-name').value.trim();
    if (name && await act('Could not add ' + name, () => store.addMember(open, name))) $('add-member-name').value = '';
  });
  $('leave').addEventListener('click', async () => {
    if (!confirm('Leave this group?')) return;
    const id = open;
    if (await act('Could not leave', () => store.removeMember(id, me))) closeChat();
  });
  $('conn-retry').addEventListener('click', () => store.client.reconnectNow());
  $('lost-dismiss').addEventListener('click', () => store.dismissLost());
  $('load-older').addEventListener('click', () => store.loadOlder(open));
  $('send-text').addEventListener('input', () => { if (open) store.typingIn(open); });
  $('send-files').addEventListener('change', renderChosenFiles);
  $('send-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = $('send-text').value;
    const files = [...$('send-files').files];
    if (!open || (!text.trim() && files.length === 0)) return;
    $('send-text').value = '';
    if (files.length === 0) {
      store.send(open, text, null, { replyTo: replyingTo?.seq, mentions: mentionsIn(text) });
      setReplyingTo(null);
    } else {
      $('send-files').value = '';
      renderChosenFiles();
      const id = open;
      await act('Not sent', () => store.sendFiles(id, files, text.trim() ? text : ''));
    }
    scrollToBottom();
  });
  $('reply-cancel').addEventListener('click', () => setReplyingTo(null));
  $('thread-close').addEventListener('click', () => showThread(null));
  document.addEventListener('visibilitychange', () => render());
}

// ---- replies, threads, mentions, reactions ----

// mentionsIn returns the members of the open chat named as @user in text.
function mentionsIn(text) {
  const chat = store.getSnapshot().chats.find((c) => c.id === open);
  if (!chat) return [];
  const named = new Set([...text.matchAll(/@([^\s@,.!?:;]+)/g)].map((x) => x[1]));
  return chat.members.map((m) => m.user_id).filter((u) => named.has(u));
}

function setReplyingTo(m) {
  replyingTo = m;
  $('reply-bar').hidden = !m;
  $('reply-text').textContent = m ? 'Replying to ' + m.sender + ': ' + m.text.slice(0, 60) : '';
  if (m) $('send-text').focus();
}

async function showThread(m) {
  if (!m) {
    thread = null;
    $('thread-panel').hidden = true;
    return;
  }
  thread = { seq: m.seq, messages: [] };
  $('thread-panel').hidden = false;
  $('thread-title').textContent = 'Thread of ' + m.sender + ': ' + (m.deleted ? 'message deleted' : m.text.slice(0, 40));
  try {
    const page = await store.client.listReplies(open, m.seq, { limit: 200 });
    if (thread && thread.seq === m.seq) thread.messages = page.messages;
  } catch (err) {
    showError('chat-error', 'Could not load the thread: ' + describeError(err));
  }
  render();
}

function toggleReaction(m, emoji) {
  const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.me);
  act('Could not react', () => (mine ? store.unreact(open, m.seq, emoji) : store.react(open, m.seq, emoji)));
}

function renderReactions(m) {
  const row = el('div', 'reactions');
  for (const r of m.reactions || []) {
    const b = el('button', r.me ? 'me' : '', r.emoji + ' ' + r.count);
    b.type = 'button';
    b.setAttribute('aria-pressed', String(r.me));
    b.addEventListener('click', () => toggleReaction(m, r.emoji));
    row.append(b);
  }
  return row;
}

// ---- rendering (textContent only) ----

function render() {
  const s = store.getSnapshot();
  const visible = document.visibilityState === 'visible';
  const first = lastRendered === null;
  lastRendered = s;
  if (open && !s.rooms[open]) {
    // The store dropped the chat: removed, or lost by the server.
    closeChat();
    return;
  }
  renderConnection();
  renderLost(s);
  renderChats(s, visible);
  renderRoom(s);
  // The open chat is read while it is on screen.
  if (open && visible && s.rooms[open]) store.markRead(open);
  if (first) scrollToBottom();
}

const CLOSE_WORDS = {
  1001: 'the server is restarting',
  1006: 'the connection was lost',
  1013: 'the server is busy',
};

function renderConnection() {
  if (!store) return;
  const c = store.getSnapshot().connection;
  const box = $('conn');
  box.dataset.state = c.state;
  let text;
  if (c.state === 'connected') text = 'Connected';
  else if (c.state === 'connecting') text = c.attempt > 0 ? 'Reconnecting…' : 'Connecting…';
  else if (c.retryAt !== null) {
    const why = c.lastClose ? (CLOSE_WORDS[c.lastClose.code] || c.lastClose.reason) : 'offline';
    const secs = Math.max(0, Math.ceil((c.retryAt - Date.now()) / 1000));
    text = 'Offline: ' + why + '. Retrying ' + (secs > 0 ? 'in ' + secs + ' s' : 'now') + '.';
  } else text = 'Offline';
  $('conn-text').textContent = text;
  $('conn-retry').hidden = c.state !== 'disconnected' || c.retryAt === null;
}

function renderLost(s) {
  const lost = s.lost;
  $('lost').hidden = !lost;
  if (!lost) return;
  const names = lost.chats.map((c) => chatTitle(c, me));
  $('lost-text').textContent = lost.serverReset
    ? 'The server no longer has your chats (' + names.join(', ') + '): it was restarted and did not keep its data. ' +
      'The demo keeps chats in memory unless it runs with -postgres.'
    : 'You are no longer a member of ' + names.join(', ') + '.';
}

function renderChats(s, visible) {
  const items = s.chats.map((c) => {
    const li = el('li');
    li.dataset.chatId = c.id;
    if (c.id === open) li.classList.add('active');
    const b = el('button');
    b.type = 'button';
    const top = el('span', 'top');
    top.append(el('span', 'name', chatTitle(c, me)), el('span', 'time', formatTime(c.last_activity_at)));
    // The open chat is marked read as it is seen, so its count would only flicker.
    if (c.unread_count > 0 && !(c.id === open && visible)) {
      top.append(el('span', 'badge', String(c.unread_count)));
      if (c.unread_mentions) top.append(el('span', 'badge mention', '@' + c.unread_mentions));
      li.classList.add('unread');
    }
    b.append(top, el('span', 'sub', preview(c)));
    b.addEventListener('click', () => openChat(c.id));
    li.append(b);
    return li;
  });
  $('chat-list').replaceChildren(...items);
  $('chats-empty').hidden = !s.chatsLoaded || s.chats.length > 0;
  $('more-chats').hidden = !s.hasMoreChats;
  if (s.chatsError && !s.chatsLoaded) showError('form-error', 'Could not load chats: ' + describeError(s.chatsError));
}

function preview(c) {
  const m = c.last_message;
  if (!m) return c.kind === 'group' ? 'group of ' + c.members.length : 'no messages yet';
  return (m.sender === me ? 'you' : m.sender) + ': ' + (m.deleted ? 'message deleted' : m.text);
}

function renderRoom(s) {
  const chat = s.chats.find((c) => c.id === open);
  const room = s.rooms[open];
  $('app').dataset.view = open ? 'chat' : 'list';
  $('no-chat').hidden = Boolean(open);
  $('chat-view').hidden = !open;
  if (!open) return;
  if (chat) renderHeader(chat, s.presence);
  else $('chat-title').textContent = room && room.loading ? 'Loading…' : '';

  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const msgs = room ? room.messages : [];
  const seen = chat ? seenBy(chat, msgs, me) : new Map();
  const editFocused = editing && editing.form.contains(document.activeElement);
  const items = msgs.map((m) => renderMessage(m, seen.get(m.seq)));
  for (const p of room ? room.pending : []) items.push(renderPending(p));
  $('message-list').replaceChildren(...items);
  if (editFocused && editing.form.isConnected) editing.form.querySelector('input').focus();
  $('messages-empty').hidden = !room || room.loading || items.length > 0;
  $('load-older').hidden = !room || !room.hasOlder;
  $('load-older').disabled = Boolean(room && room.loadingOlder);
  if (room && room.error) showError('chat-error', 'Could not load messages: ' + describeError(room.error));
  $('typing').textContent = typingText(room ? room.typing : []);
  if (thread) {
    // Replies shown live: the thread as fetched, plus replies that arrived since.
    const known = new Set(thread.messages.map((m) => m.seq));
    const replies = [...thread.messages, ...msgs.filter((m) => m.reply_to === thread.seq && !known.has(m.seq))]
      .map((m) => msgs.find((x) => x.seq === m.seq) || m);
    $('thread-list').replaceChildren(...replies.map((m) => el('li', '', m.sender + ': ' + (m.deleted ? 'message deleted' : m.text))));
  }
  if (atBottom) scrollToBottom();
}

function renderHeader(c, presence) {
  $('chat-title').textContent = chatTitle(c, me);
  $('chat-members').textContent = (c.kind === 'group' ? 'Group' : 'Direct chat') +
    ' · ' + c.members.map((m) => m.display_name || m.user_id).join(', ');
  $('chat-presence').textContent = presenceText(c, presence);
  const group = c.kind === 'group';
  $('members-toggle').hidden = !group;
  if (!group) $('members-panel').hidden = true;
  myRole = (c.members.find((m) => m.user_id === me) || {}).role || '';
  const items = c.members.map((m) => {
    const li = el('li', '', m.display_name || m.user_id);
    li.dataset.userId = m.user_id;
    const p = presence[m.user_id];
    if (p) {
      li.dataset.online = String(p.online);
      li.title = p.online ? 'online' : lastSeen(p);
    }
    if (m.role && m.role !== 'member') li.append(el('span', 'role', m.role));
    // Anyone leaves; owners and admins remove and ban whom they outrank
    // (without roles on the server, the creator removes anyone).
    const mayRemove = m.user_id !== me && (m.role ? rank(myRole) > Math.max(rank(m.role), 1) : c.created_by === me);
    if (mayRemove) {
      const rm = el('button', 'link', '×');
      rm.type = 'button';
      rm.setAttribute('aria-label', 'remove ' + m.user_id);
      rm.addEventListener('click', () => act('Could not remove ' + m.user_id, () => store.removeMember(c.id, m.user_id)));
      li.append(rm);
      if (m.role) {
        const ban = el('button', 'link', 'ban');
        ban.type = 'button';
        ban.setAttribute('aria-label', 'ban ' + m.user_id);
        ban.addEventListener('click', () => {
          if (confirm('Ban ' + m.user_id + '? They cannot be added back.')) act('Could not ban ' + m.user_id, () => store.ban(c.id, m.user_id));
        });
        li.append(ban);
      }
    }
    // Owners make admins and back.
    if (myRole === 'owner' && m.user_id !== me && m.role !== 'owner') {
      const to = m.role === 'admin' ? 'member' : 'admin';
      const role = el('button', 'link', to === 'admin' ? 'make admin' : 'make member');
      role.type = 'button';
      role.setAttribute('aria-label', 'make ' + m.user_id + ' ' + to);
      role.addEventListener('click', () => act('Could not change the role of ' + m.user_id, () => store.setRole(c.id, m.user_id, to)));
      li.append(role);
    }
    if (li.childElementCount === 0 || (li.childElementCount === 1 && li.firstElementChild.className === 'role')) li.classList.add('plain');
    return li;
  });
  $('member-list').replaceChildren(...items);
}

function rank(role) {
  return { owner: 3, admin: 2, member: 1 }[role] || 0;
}

function renderMessage(m, seen) {
  const mine = m.sender === me;
  const mentionsMe = !m.deleted && (m.mentions || []).includes(me);
  const li = el('li', 'msg' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : '') + (mentionsMe ? ' mentions-me' : ''));
  li.dataset.seq = String(m.seq);
  const meta = el('div', 'meta', m.sender + ' · ' + formatTime(m.created_at) + (m.edited_at && !m.deleted ? ' · edited' : ''));
  const isEditing = !m.deleted && editing && editing.seq === m.seq;
  if (mine && !m.deleted && !isEditing) {
    const edit = el('button', 'link action', 'edit');
    edit.type = 'button';
    edit.addEventListener('click', () => startEdit(m));
    const del = el('button', 'link action', 'delete');
    del.type = 'button';
    del.addEventListener('click', () => {
      if (confirm('Delete this message?')) act('Not deleted', () => store.deleteMessage(open, m.seq));
    });
    meta.append(edit, del);
  } else if (!mine && !m.deleted && rank(myRole) >= 2) {
    // Owners and admins delete others' messages.
    const del = el('button', 'link action', 'delete');
    del.type = 'button';
    del.addEventListener('click', () => {
      if (confirm('Delete ' + m.sender + "'s message?")) act('Not deleted', () => store.deleteMessage(open, m.seq));
    });
    meta.append(del);
  }
  if (!m.deleted && !isEditing) {
    const reply = el('button', 'link action', 'reply');
    reply.type = 'button';
    reply.addEventListener('click', () => setReplyingTo(m));
    meta.append(reply);
    for (const emoji of QUICK_REACTIONS) {
      if ((m.reactions || []).some((r) => r.emoji === emoji && r.me)) continue;
      const react = el('button', 'link action', '+' + emoji);
      react.type = 'button';
      react.setAttribute('aria-label', 'react ' + emoji);
      react.addEventListener('click', () => toggleReaction(m, emoji));
      meta.append(react);
    }
  }
  li.append(meta);
  if (m.quote) {
    li.append(el('div', 'quote', '↩ ' + m.quote.sender + ': ' + (m.quote.deleted ? 'message deleted' : m.quote.text)));
  }
  if (m.deleted) li.append(el('div', 'text', m.deleted_by ? 'message deleted by ' + m.deleted_by : 'message deleted'));
  else if (isEditing) li.append(editing.form);
  else if (m.text) li.append(el('div', 'text', m.text));
  if (!m.deleted && m.attachments) li.append(...m.attachments.map(renderAttachment));
  if (m.reactions && m.reactions.length) li.append(renderReactions(m));
  if (m.reply_count) {
    const replies = el('button', 'link replies', m.reply_count + (m.reply_count === 1 ? ' reply' : ' replies'));
    replies.type = 'button';
    replies.addEventListener('click', () => showThread(m));
    li.append(replies);
  }
  if (seen) li.append(el('div', 'seen', 'seen by ' + seen.join(', ')));
  return li;
}

// renderAttachment shows an image inline and any other file as a link.
// The demo's "user" cookie signs the browser's own requests for them in.
function renderAttachment(a) {
  const url = store.client.attachmentUrl(a.chat_id, a.id);
  if (a.content_type.startsWith('image/')) {
    const img = el('img', 'attachment-image');
    img.src = url;
    img.alt = a.name;
    img.loading = 'lazy';
    if (a.width && a.height) {
      img.width = a.width;
      img.height = a.height;
    }
    const link = el('a', 'attachment');
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener';
    link.append(img);
    return link;
  }
  const link = el('a', 'attachment file', '📄 ' + a.name + ' (' + formatSize(a.size) + ')');
  link.href = url;
  link.download = a.name;
  return link;
}

function renderChosenFiles() {
  const files = [...$('send-files').files];
  $('send-files-list').textContent = files.map((f) => f.name + ' (' + formatSize(f.size) + ')').join(', ');
  $('send-files-list').hidden = files.length === 0;
}

function formatSize(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

function renderPending(p) {
  const li = el('li', 'msg mine ' + p.status);
  li.dataset.clientId = p.client_id;
  li.append(el('div', 'meta', me + ' · ' + formatTime(p.created_at)), el('div', 'text', p.text));
  if (p.attachments.length > 0) li.append(el('div', 'status', p.attachments.length + ' attachment(s)'));
  if (p.status === 'pending') {
    li.append(el('div', 'status', 'Sending…'));
  } else {
    const status = el('div', 'status', 'Not sent. ' + describeError(p.error) + ' ');
    const retry = el('button', 'link action', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', () => store.retry(p.chat_id, p.client_id));
    const discard = el('button', 'link action', 'Discard');
    discard.type = 'button';
    discard.addEventListener('click', () => store.discard(p.chat_id, p.client_id));
    status.append(retry, discard);
    li.append(status);
  }
  return li;
}

// presenceText says who of the other members is online: the other user of
// a direct chat, a count in a group. Empty when the server has no presence.
function presenceText(c, presence) {
  const others = c.members.filter((m) => m.user_id !== me && presence[m.user_id]);
  if (others.length === 0) return '';
  if (c.kind === 'direct') {
    const p = presence[others[0].user_id];
    return p.online ? 'online' : lastSeen(p);
  }
  const n = others.filter((m) => presence[m.user_id].online).length;
  return n + ' online';
}

function lastSeen(p) {
  return p.last_seen_at ? 'last seen ' + formatTime(p.last_seen_at) : 'offline';
}

function typingText(names) {
  if (names.length === 0) return '';
  return names.length === 1 ? names[0] + ' is typing…' : names.join(', ') + ' are typing…';
}

function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function formatTime(iso) {
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

function showError(id, text) {
  $(id).textContent = text;
  $(id).hidden = false;
}

init();
