/**
 * backoffDelay is exponential backoff with full jitter: a uniformly random
 * delay between 0 and min(maxDelay, minDelay * 2^attempt). Full jitter
 * spreads the reconnects of many clients after a server restart instead of
 * having them all come back in waves.
 */
export function backoffDelay(attempt: number, minDelay: number, maxDelay: number, random: () => number): number {
  const cap = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * How the client reacts to the way a connection closed (docs/protocol.md,
 * "Keep-alive and close codes").
 */
export interface ClosePolicy {
  /** Why, in words for a person. */
  reason: string;
  /**
   * The delay before reconnecting, given the attempt count, the delay
   * bounds and a random source.
   */
  delay(attempt: number, minDelay: number, maxDelay: number, random: () => number): number;
  /** Whether this is the client's fault (it sent frames the server refused). */
  clientFault: boolean;
}

const regular = (reason: string): ClosePolicy => ({ reason, delay: backoffDelay, clientFault: false });

/**
 * The client sent the wrong frames (no resume in time, a frame too big):
 * reconnecting quickly would only repeat it, so wait the longest delay.
 */
const clientFault = (reason: string): ClosePolicy => ({
  reason,
  delay: (_attempt, _min, max, random) => Math.floor(max / 2 + (random() * max) / 2),
  clientFault: true,
});

/**
 * closePolicy returns the reaction to a close code. Every code reconnects:
 * the server never closes for good, and the host's authentication (a 401
 * on the upgrade, seen as 1006) shows on the REST calls.
 */
export function closePolicy(code: number): ClosePolicy {
  switch (code) {
    case 1000:
      return regular('the connection was closed');
    case 1001:
      return regular('the server is restarting');
    case 1008:
      return regular('the connection was too slow');
    case 1009:
      return clientFault('the client sent a frame that was too big');
    case 1011:
      return regular('the server had an internal error');
    case 1013:
      // The server's Store is unreachable: a quick retry would find it
      // unreachable still, and add load when it comes back.
      return {
        reason: 'the server is busy',
        delay: (attempt, min, max, random) => Math.max(min * 2, backoffDelay(Math.max(attempt, 3), min, max, random)),
        clientFault: false,
      };
    case 4000:
      // Slow consumer: the server dropped us because our queue filled up.
      // Everything we have not received is replayed from our positions,
      // so resume at once (with a little jitter) rather than fall further behind.
      return {
        reason: 'the connection fell behind',
        delay: (attempt, min, max, random) => backoffDelay(Math.max(attempt - 1, 0), min / 4, max, random),
        clientFault: false,
      };
    case 4001:
      return clientFault('the client did not resume in time');
    default:
      return regular('the connection was lost');
  }
}
