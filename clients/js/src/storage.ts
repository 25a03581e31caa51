/**
 * Where a ChatClient keeps its positions (the last seq it holds of each
 * chat) between page loads. It has the shape of the Web Storage API, so
 * `window.localStorage` and `window.sessionStorage` plug in as they are;
 * anything else (IndexedDB behind a cache, a file in Node) needs only these
 * three methods. Errors thrown by it (a full or disabled storage) are
 * ignored: positions then last as long as the page.
 */
export interface PositionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** MemoryStorage keeps positions for the life of the object: the default. */
export class MemoryStorage implements PositionStorage {
  private readonly items = new Map<string, string>();

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }

  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/**
 * browserStorage returns `window.localStorage` where it can be used, and a
 * MemoryStorage otherwise (Node, or a browser that blocks storage).
 */
export function browserStorage(): PositionStorage {
  try {
    const s = (globalThis as { localStorage?: PositionStorage }).localStorage;
    if (s) {
      const probe = '__embedchat_probe__';
      s.setItem(probe, '1');
      s.removeItem(probe);
      return s;
    }
  } catch {
    // Blocked storage (privacy settings, a sandboxed frame): fall through.
  }
  return new MemoryStorage();
}

/** A chat id and the last seq held of it. */
export type Positions = Record<string, number>;

export function loadPositions(storage: PositionStorage, key: string): Positions {
  try {
    const raw = storage.getItem(key);
    if (!raw) return {};
    const parsed: unknown = JSON.parse(raw);
    const out: Positions = {};
    if (parsed && typeof parsed === 'object') {
      for (const [id, seq] of Object.entries(parsed)) {
        if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) out[id] = seq;
      }
    }
    return out;
  } catch {
    return {};
  }
}

export function savePositions(storage: PositionStorage, key: string, positions: Positions): void {
  try {
    storage.setItem(key, JSON.stringify(positions));
  } catch {
    // A full or disabled storage: positions live as long as the page.
  }
}
