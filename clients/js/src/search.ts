import type { TextRange } from './types.js';

/** A piece of a message's text, and whether a search matched it. */
export interface TextSegment {
  text: string;
  match: boolean;
}

/**
 * highlightSegments cuts a search hit's text at its highlights, so that a
 * UI renders each piece as text (a text node, `textContent`, a React
 * string child) and wraps the matched ones in `<mark>`: the text is never
 * parsed as markup. Ranges that are out of order, overlap or fall outside
 * the text are clamped or skipped, so a bad range cannot lose text.
 */
export function highlightSegments(text: string, highlights: readonly TextRange[]): TextSegment[] {
  const out: TextSegment[] = [];
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
