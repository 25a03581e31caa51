// Code generated from docs/openapi.yaml by openapi_ts_test.go; DO NOT EDIT.
// Regenerate: go test -run TestOpenAPITypeScriptIsCurrent -update-openapi-ts .

export interface AddMemberRequest {
  user_id: ID;
}

export interface Attachment {
  chat_id: ID;
  /** The type the server sniffed from the bytes, e.g. `image/png` or `text/plain; charset=utf-8`. */
  content_type: string;
  created_at: Time;
  id: ID;
  /** The seq of the message that references it, 0 while none does. */
  message_seq: number;
  name: string;
  size: number;
  uploader: ID;
  /** Present with `width`. */
  height?: number;
  /** Present with `reply_count`, the time of the latest reply. */
  last_reply_at?: Time;
  /** Present with `reply_count`, the seq of the latest reply. */
  last_reply_seq?: number;
  /** Present only when the sender mentioned members, their user ids, sorted. */
  mentions?: ID[];
  quote?: Quote;
  /** Present only when the message has reactions, one per emoji in the order each was first used. */
  reactions?: Reaction[];
  /** Present only on a message with replies, how many (deleted ones included). */
  reply_count?: number;
  /** Present only on a reply, the seq of the message it replies to. */
  reply_to?: number;
  /** Present for PNG, JPEG and GIF images whose header the server read. */
  width?: number;
}

export interface Ban {
  at: Time;
  banned_by: ID;
  user_id: ID;
}

export interface BanList {
  bans: Ban[];
}

export interface Block {
  at: Time;
  user_id: ID;
}

export interface BlockList {
  blocks: Block[];
}

export interface Chat {
  created_at: Time;
  created_by: ID;
  id: ID;
  kind: "direct" | "group";
  last_activity_at: Time;
  /** The message with the highest seq (its tombstone if deleted), null if the chat has no message. */
  last_message: Message | null;
  /** The seq of the chat's latest persisted event, 0 if none. */
  last_seq: number;
  /** How many members the chat has. */
  member_count: number;
  /**
   * Sorted by `user_id`: at most the first 100 (`Limits.MaxInlineMembers`), plus the caller's own entry
   * when it is not among them (then last). Complete exactly when its length is `member_count`; page the
   * rest with `GET /chats/{chat_id}/members`.
   */
  members: Member[];
  /** `""` for direct chats and untitled groups. */
  title: string;
  /** The caller's unread messages from other senders, deleted ones excluded. */
  unread_count: number;
  /** The group's metadata object (an avatar URL, a description); absent when none. */
  metadata?: Record<string, unknown>;
  /** The caller's own settings of the chat; absent when they set none. */
  settings?: MemberSettings;
  /**
   * How many of the caller's unread messages (as `unread_count` counts them) mention them. Absent when
   * none, and when the server's Store keeps no mentions.
   */
  unread_mentions?: number;
}

export interface ChatPage {
  chats: Chat[];
  /** `""` on the last page. */
  next_cursor: string;
}

export interface CreateChatRequest {
  kind: "direct" | "group";
  /** Makes the creation idempotent; a retry with the same id answers `200` with the chat it created. */
  client_id?: ID;
  /** The users besides the caller; a direct chat names exactly one. */
  members?: ID[];
  /** A group's title, at most 200 code points; a direct chat has none. */
  title?: string;
}

export interface EditMessageRequest {
  /** The new text, under the rules of a new message's text. */
  text: string;
}

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
  };
}

/** Switch on this; the message is for humans and may change. */
export type ErrorCode = "invalid_request" | "unauthenticated" | "forbidden" | "not_found" | "method_not_allowed" | "conflict" | "payload_too_large" | "unsupported_media_type" | "rejected" | "rate_limited" | "internal" | "not_implemented" | "range_not_satisfiable" | "unavailable";

/** Non-empty valid UTF-8 of at most 128 bytes (`Limits.MaxIDBytes`) without control characters. */
export type ID = string;

export interface MarkReadRequest {
  /** The highest seq shown to the user. */
  seq: number;
}

export interface Member {
  last_read_seq: number;
  user_id: ID;
  /** Present only when the host's user directory knows the user's name. */
  display_name?: string;
  /** The member's role in a group, when the Store keeps roles; absent otherwise and in direct chats. */
  role?: Role;
}

export interface MemberPage {
  /** Whether members after the last one exist. */
  has_more: boolean;
  members: Member[];
}

export interface MemberSettings {
  archived: boolean;
  /** Push notifications are off, until `muted_until` or for good without it. Unread counts still count. */
  muted: boolean;
  /** Pinned chats come first in chat lists. */
  pinned: boolean;
  muted_until?: Time;
}

export interface Message {
  chat_id: ID;
  /** `""` when the sender gave none. */
  client_id: string;
  created_at: Time;
  deleted: boolean;
  /** The sender's metadata object; null when none was given and on a tombstone. */
  metadata: Record<string, unknown> | null;
  sender: ID;
  seq: number;
  /** `""` on a tombstone. */
  text: string;
  /** Present only on a message sent with attachments (never on a tombstone), in the order sent. */
  attachments?: Attachment[];
  /** On a tombstone, the owner or admin who deleted another member's message. */
  deleted_by?: ID;
  /** Present only on an edited message, the time of its latest edit. */
  edited_at?: Time;
}

export interface MessagePage {
  has_more: boolean;
  messages: Message[];
}

export interface Presence {
  /**
   * When the user was last known online: for an online user, the latest time a node confirmed it; for an
   * offline one, when their last connection closed (or their node's last confirmation, if it died).
   * `null` when never seen, or when the user hides their presence.
   */
  last_seen_at: Time | null;
  /** Whether the user has a connection open, on any node. */
  online: boolean;
  user_id: ID;
}

export interface PresencePage {
  /** Whether members after the last one exist. */
  has_more: boolean;
  presence: Presence[];
}

/** Present only on a reply, the message it replies to as that message is now. */
export interface Quote {
  sender: ID;
  /** The first 100 code points of its text; `""` once it is deleted. */
  text: string;
  /** Present and true once it is deleted. */
  deleted?: boolean;
}

export interface Reaction {
  count: number;
  emoji: string;
  /** Whether the caller reacted with this emoji; always false in WebSocket events. */
  me: boolean;
}

export interface ReadMarker {
  chat_id: ID;
  read_seq: number;
  user_id: ID;
}

export type Role = "owner" | "admin" | "member";

export interface SearchHit {
  /**
   * The parts of `message.text` that matched, in order and without overlap. Render the text as text and
   * wrap these ranges yourself: the server sends no markup, so a message cannot inject HTML.
   */
  highlights: TextRange[];
  message: Message;
}

export interface SearchPage {
  hits: SearchHit[];
  /** `""` on the last page. */
  next_cursor: string;
}

export interface SendMessageRequest {
  /** Valid UTF-8 without NUL, at least one non-whitespace character, at most 4000 code points. */
  text: string;
  /**
   * Ids of attachments the sender uploaded to this chat and has not sent yet (`400` otherwise), at most
   * 10 by default. With attachments, `text` may be `""`. `501` on servers without attachments.
   */
  attachments?: ID[];
  /** Makes the send idempotent; reuse it for every retry of the same message. */
  client_id?: ID;
  /**
   * User ids of members the message mentions, at most 50 (`Limits.MaxMentions`) once duplicates are
   * dropped; a non-member is `400`; `501` when the server's Store keeps no mentions.
   */
  mentions?: ID[];
  /** Any JSON object of at most 4 KiB; null is the same as absent. */
  metadata?: Record<string, unknown> | null;
  /**
   * The seq of a message of this chat to reply to; 0 is the same as absent. A seq that is no message of
   * the chat is `400`, a deleted message `409`; `501` when the server's Store keeps no threads.
   */
  reply_to?: number;
}

export interface SetRoleRequest {
  role: Role;
}

export interface SettingsRequest {
  archived?: boolean;
  muted?: boolean;
  /** With muted true, when the mute ends; absent mutes for good. */
  muted_until?: Time;
  pinned?: boolean;
}

/** `text.slice(start, end)` in JavaScript: offsets in UTF-16 code units, `start` inclusive, `end` exclusive. */
export interface TextRange {
  end: number;
  start: number;
}

/** RFC 3339 in UTC with up to microsecond precision, e.g. `2026-11-28T04:43:26.274846Z`. */
export type Time = string;

export interface UpdateChatRequest {
  /** The new metadata object, at most 4 KiB; null clears it. */
  metadata?: Record<string, unknown> | null;
  /** The new title, at most 200 code points. */
  title?: string;
}

/** The REST operations, by operationId. Paths are relative to where the host mounts the handler. */
export interface Operations {
  /** Add a member to a group */
  addMember: {
    method: "POST";
    path: "/chats/{chat_id}/members";
    body: AddMemberRequest;
    responses: {
      200: Chat;
      201: Chat;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** React to a message */
  addReaction: {
    method: "PUT";
    path: "/chats/{chat_id}/messages/{seq}/reactions/{emoji}";
    responses: {
      200: Message;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      409: ErrorReply<"conflict">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Ban a user from a group */
  banUser: {
    method: "POST";
    path: "/chats/{chat_id}/bans";
    body: AddMemberRequest;
    responses: {
      204: void;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Block a user */
  blockUser: {
    method: "POST";
    path: "/blocks";
    body: AddMemberRequest;
    responses: {
      204: void;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Create a chat */
  createChat: {
    method: "POST";
    path: "/chats";
    body: CreateChatRequest;
    responses: {
      200: Chat;
      201: Chat;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Delete a message */
  deleteMessage: {
    method: "DELETE";
    path: "/chats/{chat_id}/messages/{seq}";
    responses: {
      200: Message;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Download an attachment */
  downloadAttachment: {
    method: "GET";
    path: "/chats/{chat_id}/attachments/{attachment_id}";
    responses: {
      200: string;
      206: string;
      304: void;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      416: ErrorReply<"range_not_satisfiable">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Edit a message */
  editMessage: {
    method: "PATCH";
    path: "/chats/{chat_id}/messages/{seq}";
    body: EditMessageRequest;
    responses: {
      200: Message;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      409: ErrorReply<"conflict">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      422: ErrorReply<"rejected">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Get a chat */
  getChat: {
    method: "GET";
    path: "/chats/{chat_id}";
    responses: {
      200: Chat;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** List the users banned from a group */
  listBans: {
    method: "GET";
    path: "/chats/{chat_id}/bans";
    responses: {
      200: BanList;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** List the users the caller blocks */
  listBlocks: {
    method: "GET";
    path: "/blocks";
    responses: {
      200: BlockList;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** List the caller's chats */
  listChats: {
    method: "GET";
    path: "/chats";
    query: { limit?: number; cursor?: string; archived?: "include" | "exclude" | "only" };
    responses: {
      200: ChatPage;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** List a chat's members */
  listMembers: {
    method: "GET";
    path: "/chats/{chat_id}/members";
    query: { limit?: number; after?: string };
    responses: {
      200: MemberPage;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** List a chat's messages */
  listMessages: {
    method: "GET";
    path: "/chats/{chat_id}/messages";
    query: { limit?: number; before?: number; after?: number };
    responses: {
      200: MessagePage;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Who of a chat's members is online */
  listPresence: {
    method: "GET";
    path: "/chats/{chat_id}/presence";
    query: { limit?: number; after?: string };
    responses: {
      200: PresencePage;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** List a message's thread */
  listReplies: {
    method: "GET";
    path: "/chats/{chat_id}/messages/{seq}/replies";
    query: { limit?: number; before?: number; after?: number };
    responses: {
      200: MessagePage;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Mark a chat read */
  markRead: {
    method: "POST";
    path: "/chats/{chat_id}/read";
    body: MarkReadRequest;
    responses: {
      200: ReadMarker;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Remove a member from a group, or leave it */
  removeMember: {
    method: "DELETE";
    path: "/chats/{chat_id}/members/{user_id}";
    responses: {
      204: void;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Take a reaction back */
  removeReaction: {
    method: "DELETE";
    path: "/chats/{chat_id}/messages/{seq}/reactions/{emoji}";
    responses: {
      200: Message;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      409: ErrorReply<"conflict">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Search the messages of the caller's chats */
  searchMessages: {
    method: "GET";
    path: "/search";
    query: { q?: string; chat_id?: ID; limit?: number; cursor?: string };
    responses: {
      200: SearchPage;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Send a message */
  sendMessage: {
    method: "POST";
    path: "/chats/{chat_id}/messages";
    body: SendMessageRequest;
    responses: {
      200: Message;
      201: Message;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      422: ErrorReply<"rejected">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Change a member's role */
  setRole: {
    method: "PATCH";
    path: "/chats/{chat_id}/members/{user_id}";
    body: SetRoleRequest;
    responses: {
      200: Member;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      409: ErrorReply<"conflict">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Lift a ban */
  unbanUser: {
    method: "DELETE";
    path: "/chats/{chat_id}/bans/{user_id}";
    responses: {
      204: void;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Unblock a user */
  unblockUser: {
    method: "DELETE";
    path: "/blocks/{user_id}";
    responses: {
      204: void;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Rename a group or change its metadata */
  updateChat: {
    method: "PATCH";
    path: "/chats/{chat_id}";
    body: UpdateChatRequest;
    responses: {
      200: Chat;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Change the caller's own settings of a chat */
  updateSettings: {
    method: "PATCH";
    path: "/chats/{chat_id}/settings";
    body: SettingsRequest;
    responses: {
      200: MemberSettings;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
  /** Upload an attachment */
  uploadAttachment: {
    method: "POST";
    path: "/chats/{chat_id}/attachments";
    query: { name?: string };
    body: Blob;
    responses: {
      201: Attachment;
      400: ErrorReply<"invalid_request">;
      401: ErrorReply<"unauthenticated">;
      403: ErrorReply<"forbidden">;
      404: ErrorReply<"not_found">;
      413: ErrorReply<"payload_too_large">;
      415: ErrorReply<"unsupported_media_type">;
      429: ErrorReply<"rate_limited">;
      500: ErrorReply<"internal">;
      501: ErrorReply<"not_implemented">;
      503: ErrorReply<"unavailable">;
    };
  };
}

/** An error reply whose code is C. */
export interface ErrorReply<C extends ErrorCode = ErrorCode> extends ErrorBody {
  error: { code: C; message: string };
}
