/**
 * @embedchat/client: the browser and Node client of embedchat's chat
 * protocol. ChatClient speaks REST and keeps one resuming WebSocket;
 * ChatStore keeps the state a chat UI shows and binds to any framework
 * through subscribe/getSnapshot.
 */
export { ChatClient } from './client.js';
export type {
  ChatClientEvents,
  ChatClientOptions,
  ConnectionState,
  ConnectionStatus,
  WebSocketConstructor,
  WebSocketLike,
} from './client.js';
export { ChatStore, chatTitle, newer, seenBy } from './store.js';
export type { ChatStoreOptions, ChatStoreState, LostChats, PendingMessage, Room } from './store.js';
export { ChatError, describeError } from './errors.js';
export { highlightSegments } from './search.js';
export type { TextSegment } from './search.js';
export { MemoryStorage, browserStorage } from './storage.js';
export type { PositionStorage, Positions } from './storage.js';
export { backoffDelay, closePolicy } from './backoff.js';
export type { ClosePolicy } from './backoff.js';
export type * from './types.js';
