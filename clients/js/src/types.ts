// Wire types of docs/protocol.md. Every object may carry fields that are
// not listed here (the protocol only ever adds fields); clients ignore them.

/** A member of a chat and their read marker. */
export interface Member {
  user_id: string;
  /** The highest seq this member has marked read. */
  last_read_seq: number;
  /** Present only when the host app has a user directory that knows the name. */
  display_name?: string;
  /** The member's role in a group, when the server keeps roles; absent in direct chats. */
  role?: Role;
}

/** A member's role in a group: owners and admins moderate, owners change roles. */
export type Role = 'owner' | 'admin' | 'member';

/** The caller's own settings of a chat; only they see them. */
export interface MemberSettings {
  /** Push notifications off, until `muted_until` or for good without it. */
  muted: boolean;
  muted_until?: string;
  archived: boolean;
  /** Pinned chats come first in the chat list. */
  pinned: boolean;
}

/** A message, or the tombstone of a deleted one (`deleted: true`, `text: ""`). */
export interface Message {
  chat_id: string;
  /** The seq of the message's `message.created` event; it never changes. */
  seq: number;
  sender: string;
  text: string;
  /** `""` when the sender gave none. */
  client_id: string;
  /** Any JSON object the sender attached, or null. */
  metadata: Record<string, unknown> | null;
  created_at: string;
  /** The time of the latest edit; absent on a message never edited. */
  edited_at?: string;
  deleted: boolean;
  /** On a tombstone, the owner or admin who deleted another member's message. */
  deleted_by?: string;
  /** On a reply, the seq of the message it replies to. */
  reply_to?: number;
  /** On a reply, the message it replies to as that message is now. */
  quote?: Quote;
  /** On a message with replies: how many (deleted ones included), and the latest's seq and time. */
  reply_count?: number;
  last_reply_seq?: number;
  last_reply_at?: string;
  /** The members the sender mentioned, sorted. */
  mentions?: string[];
  /** One entry per emoji, in the order each was first used. */
  reactions?: Reaction[];
  /** The files sent with the message, in order; absent when none, and on a tombstone. */
  attachments?: Attachment[];
}

/**
 * A file uploaded to a chat (`ChatClient.uploadAttachment`), to be sent
 * with a message by its id.
 */
export interface Attachment {
  id: string;
  chat_id: string;
  uploader: string;
  /** What the server found the bytes to be, e.g. `image/png`; never what the uploader claimed. */
  content_type: string;
  size: number;
  name: string;
  /** Present, with `height`, for PNG, JPEG and GIF images. */
  width?: number;
  height?: number;
  created_at: string;
  /** The seq of the message that carries it; 0 until it is sent. */
  message_seq: number;
}

/** How a reply shows the message it replies to. */
export interface Quote {
  sender: string;
  /** The first 100 code points of its text; `""` once it is deleted. */
  text: string;
  deleted?: boolean;
}

/** The count of one emoji on a message. */
export interface Reaction {
  emoji: string;
  count: number;
  /** Whether the user reacted with it (set in REST answers; false in events). */
  me: boolean;
}

/** A chat as the REST API and `chat.created` events describe it. */
export interface Chat {
  id: string;
  kind: 'direct' | 'group';
  /** `""` for direct chats and untitled groups. */
  title: string;
  /**
   * Sorted by user_id, and bounded: the first members by user_id (100 by
   * default) plus the caller's own entry. `member_count` counts them all;
   * `ChatClient.members` pages the rest.
   */
  members: Member[];
  /** How many members the chat has, whether or not all are in `members`. */
  member_count: number;
  created_by: string;
  created_at: string;
  /** The seq of the chat's latest persisted event, 0 if none. */
  last_seq: number;
  last_activity_at: string;
  /** The message with the highest seq (its tombstone if deleted), or null. */
  last_message: Message | null;
  /** The caller's unread messages. */
  unread_count: number;
  /** How many of the caller's unread messages mention them; absent when 0. */
  unread_mentions?: number;
  /** The group's metadata object (an avatar URL, a description), when it has one. */
  metadata?: Record<string, unknown>;
  /** The caller's own settings, when any is on. */
  settings?: MemberSettings;
}

/** The body of `PATCH /chats/{chat_id}`: the fields present change; metadata null clears it. */
export interface UpdateChatRequest {
  title?: string;
  metadata?: Record<string, unknown> | null;
}

/** The body of `PATCH /chats/{chat_id}/settings`: the fields present change. */
export interface SettingsRequest {
  muted?: boolean;
  /** With muted true: when the mute ends. */
  muted_until?: string;
  archived?: boolean;
  pinned?: boolean;
}

/** A user banned from a group. */
export interface Ban {
  user_id: string;
  banned_by: string;
  at: string;
}

/** A user the caller blocks. */
export interface Block {
  user_id: string;
  at: string;
}

/** The body of `POST /chats`. */
export interface CreateChatRequest {
  kind: 'direct' | 'group';
  /** The other members; the caller is always a member. A direct chat names exactly one. */
  members: string[];
  /** Groups only. */
  title?: string;
}

/** The body of `POST /chats/{chat_id}/messages`. */
export interface SendMessageRequest {
  text: string;
  /** Makes the send idempotent: reuse it for every retry of the same message. */
  client_id?: string;
  metadata?: Record<string, unknown> | null;
  /** The seq of a message of the same chat this one replies to. */
  reply_to?: number;
  /** User ids of members the message mentions. */
  mentions?: string[];
  /** Ids of the sender's uploads to this chat, not sent yet. With attachments, `text` may be `""`. */
  attachments?: string[];
}

/** A page of `GET /chats`. */
export interface ChatPage {
  chats: Chat[];
  /** `""` on the last page. */
  next_cursor: string;
}

/** A page of `GET /chats/{chat_id}/messages`, in ascending seq order. */
export interface MessagePage {
  messages: Message[];
  has_more: boolean;
}

/** The answer of `POST /chats/{chat_id}/read`: the marker after the call. */
export interface ReadMarker {
  chat_id: string;
  user_id: string;
  read_seq: number;
}

/** Paging of `GET /chats`. */
export interface ListChatsOptions {
  limit?: number;
  cursor?: string;
  /** `exclude` leaves out the caller's archived chats, `only` lists them alone. */
  archived?: 'include' | 'exclude' | 'only';
}

/** A page of `GET /chats/{chat_id}/members`: members by user_id after `after`. */
export interface ListMembersOptions {
  limit?: number;
  after?: string;
}

/** The answer of `GET /chats/{chat_id}/members`. */
export interface MemberPage {
  members: Member[];
  has_more: boolean;
}

/** The window of `GET /chats/{chat_id}/messages`: newest, `before` or `after` a seq. */
export interface ListMessagesOptions {
  limit?: number;
  before?: number;
  after?: number;
}

export interface MessageCreatedEvent {
  type: 'message.created';
  chat_id: string;
  seq: number;
  message: Message;
}

export interface MessageUpdatedEvent {
  type: 'message.updated';
  chat_id: string;
  /** The event's own seq; the message keeps its seq. */
  seq: number;
  message: Message;
}

export interface MessageDeletedEvent {
  type: 'message.deleted';
  chat_id: string;
  seq: number;
  /** The tombstone. */
  message: Message;
}

export interface MemberAddedEvent {
  type: 'member.added';
  chat_id: string;
  seq: number;
  user_id: string;
}

export interface MemberRemovedEvent {
  type: 'member.removed';
  chat_id: string;
  seq: number;
  user_id: string;
}

export interface ReactionEvent {
  type: 'reaction.added' | 'reaction.removed';
  chat_id: string;
  seq: number;
  /** Who reacted. */
  user_id: string;
  /** `count` is the emoji's count on the message right after this event. */
  reaction: { message_seq: number; emoji: string; count: number };
}

/** `user_id`'s role became `role`, by `actor_id`. */
export interface MemberRoleEvent {
  type: 'member.role';
  chat_id: string;
  seq: number;
  user_id: string;
  actor_id: string;
  role: Role;
}

/** `member.banned` or `member.unbanned`: `actor_id` banned `user_id` or lifted the ban. */
export interface MemberBanEvent {
  type: 'member.banned' | 'member.unbanned';
  chat_id: string;
  seq: number;
  user_id: string;
  actor_id: string;
}

/** The group was renamed or its metadata changed; `info` is both after the change. */
export interface ChatUpdatedEvent {
  type: 'chat.updated';
  chat_id: string;
  seq: number;
  actor_id: string;
  info: { title: string; metadata: Record<string, unknown> | null };
}

/**
 * The user's own settings of the chat changed (on another device, say). Only they receive it whole: other
 * members get it without user_id and settings, a seq that changes nothing but their position.
 */
export interface MemberSettingsEvent {
  type: 'member.settings';
  chat_id: string;
  seq: number;
  user_id?: string;
  settings?: MemberSettings;
}

/** The events that are stored and carry a seq. */
export type PersistedEvent =
  | MessageCreatedEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | MemberAddedEvent
  | MemberRemovedEvent
  | MemberRoleEvent
  | MemberBanEvent
  | ChatUpdatedEvent
  | MemberSettingsEvent
  | ReactionEvent;

export interface ReadEvent {
  type: 'read';
  chat_id: string;
  user_id: string;
  read_seq: number;
}

export interface ChatCreatedEvent {
  type: 'chat.created';
  chat_id: string;
  /** Its unread_count is 0 and it has no display names: fetch the chat for those. */
  chat: Chat;
}

export interface TypingEvent {
  type: 'typing';
  chat_id: string;
  user_id: string;
}

/** Whether a user has a connection open, on any node. */
export interface Presence {
  user_id: string;
  online: boolean;
  /**
   * When the user was last known online (ISO 8601): for an online user the
   * latest confirmation, for an offline one when they left. Null if never
   * seen, or if they hide their presence.
   */
  last_seen_at: string | null;
}

/** The answer of `GET /chats/{chat_id}/presence`. */
export interface PresencePage {
  presence: Presence[];
  has_more: boolean;
}

/** A member of a chat the user follows came online or went offline. */
export interface PresenceEvent {
  type: 'presence';
  /** One chat shared with user_id; each change comes once, whichever chat it came through. */
  chat_id: string;
  user_id: string;
  presence: Presence;
}

/** The events a ChatClient delivers to its listeners. */
export type ChatEvent = PersistedEvent | ReadEvent | ChatCreatedEvent | TypingEvent | PresenceEvent;

/** The types of persisted events, which carry a seq. */
export const persistedTypes: ReadonlySet<string> = new Set([
  'message.created',
  'message.updated',
  'message.deleted',
  'member.added',
  'member.removed',
  'reaction.added',
  'reaction.removed',
  'member.role',
  'member.banned',
  'member.unbanned',
  'chat.updated',
  'member.settings',
]);

/** A part of a text: `text.slice(start, end)`, offsets in UTF-16 code units. */
export interface TextRange {
  start: number;
  end: number;
}

/** A message `GET /search` found, with the parts of its text that matched. */
export interface SearchHit {
  message: Message;
  /** In order and without overlap; render them with `highlightSegments`, never as markup. */
  highlights: TextRange[];
}

/** A page of `GET /search`, newest first. */
export interface SearchPage {
  hits: SearchHit[];
  /** `""` on the last page. */
  next_cursor: string;
}

/** Options of `GET /search`. */
export interface SearchOptions {
  /** Search this chat only. */
  chatId?: string;
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}
