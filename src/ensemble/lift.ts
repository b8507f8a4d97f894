import { findExpressionEnd } from '../expression/scan';

/**
 * Plain YAML cannot hold `${...}` everywhere the spec writes it (`approvers: [${env.ADMIN_EMAIL}]`
 * is a nested flow mapping to a YAML parser). So each expression is lifted out before parsing and
 * replaced by a placeholder of exactly the same length made of private-use characters (legal in
 * any YAML scalar, and keeping every line:col of the file true), then put back afterwards.
 */
export interface LiftedSource {
  text: string;
  /** Source offset of each lifted `${`, in file order. */
  offsets: number[];
  restore(value: string): string;
}

const START = 0xe000;
const FILL = 0xe001;
const DIGIT = 0xe100;
const PLACEHOLDER = /\uE000\uE001*[\uE100-\uF0FF]{2}/g;

function placeholder(index: number, length: number): string {
  return (
    String.fromCharCode(START) +
    String.fromCharCode(FILL).repeat(length - 3) +
    String.fromCharCode(DIGIT + ((index >> 12) & 0xfff), DIGIT + (index & 0xfff))
  );
}

export function liftExpressions(source: string): LiftedSource {
  const originals: string[] = [];
  const offsets: number[] = [];
  let text = '';
  let i = 0;
  for (;;) {
    const at = source.indexOf('${', i);
    if (at === -1) break;
    // Expressions never span lines; an unterminated one stays as text and is reported later.
    const end = findExpressionEnd(source, at, true);
    if (end === -1) {
      // The line is already in error (reported when its value compiles): the rest of it stays
      // text, so a line of 50,000 `${` is scanned once, not once per `${`.
      const nl = source.slice(at).search(/[\r\n]/);
      const stop = nl === -1 ? source.length : at + nl;
      text += source.slice(i, stop);
      i = stop;
      continue;
    }
    text += source.slice(i, at) + placeholder(originals.length, end - at);
    originals.push(source.slice(at, end));
    offsets.push(at);
    i = end;
  }
  text += source.slice(i);
  const restore = (value: string): string =>
    value.includes('\uE000')
      ? value.replace(PLACEHOLDER, (m) => {
          const index = ((m.charCodeAt(m.length - 2) - DIGIT) << 12) | (m.charCodeAt(m.length - 1) - DIGIT);
          return originals[index] ?? m;
        })
      : value;
  return { text, offsets, restore };
}

/** Puts lifted expressions back into every string (and key) of a parsed value. */
export function restoreValue(value: unknown, restore: (s: string) => string): unknown {
  if (typeof value === 'string') return restore(value);
  if (Array.isArray(value)) return value.map((v) => restoreValue(v, restore));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [restore(k), restoreValue(v, restore)]));
  }
  return value;
}
