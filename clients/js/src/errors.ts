/**
 * The error of every failed request. `code` is the protocol's error code
 * (`not_found`, `rate_limited`, ...) or, for a request that got no answer,
 * `network`; `status` is the HTTP status, 0 without an answer.
 */
export class ChatError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before retrying, from `Retry-After` (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ChatError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /**
   * Whether retrying the same request may succeed: no answer, a server
   * error, or a rate limit. Sends are safe to retry with their client_id.
   */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

/**
 * describeError turns an error into a sentence for a person: what happened,
 * not the browser's or the protocol's words for it.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof ChatError)) return 'Something went wrong.';
  switch (err.code) {
    case 'network':
      return "Can't reach the chat server. Check your connection.";
    case 'unauthenticated':
      return 'You are signed out. Sign in again.';
    case 'not_found':
      return 'This chat or message no longer exists, or you are no longer a member.';
    case 'forbidden':
      return err.message ? `Not allowed: ${err.message}` : 'You are not allowed to do that.';
    case 'rejected':
      return err.message ? `Refused: ${err.message}` : 'The server refused this message.';
    case 'rate_limited':
      return `You are sending too fast. Try again in ${err.retryAfter ?? 1} s.`;
    case 'conflict':
      return 'The message was deleted meanwhile.';
    case 'payload_too_large':
      return 'That is too long.';
    case 'unavailable':
      return 'The chat server is busy or restarting. Try again in a moment.';
    case 'not_implemented':
      return 'The chat server does not offer this.';
    case 'invalid_request':
      return err.message ? capitalize(err.message) + '.' : 'The server did not accept that.';
    default:
      return err.status >= 500 ? 'The chat server had a problem. Try again.' : capitalize(err.message) || 'Something went wrong.';
  }
}

function capitalize(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}
