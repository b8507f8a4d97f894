/** A `${...}` found in a piece of text: `start` is the index of `$`, `end` the index after `}`. */
export interface ExprSpan {
  start: number;
  end: number;
  /** The expression source between the braces, untrimmed. */
  text: string;
}

/** A piece of a template string: literal text or an expression span. */
export type TemplatePart = { kind: 'text'; text: string } | { kind: 'expr'; span: ExprSpan };

export class UnterminatedExpressionError extends Error {
  constructor(readonly index: number) {
    super("unterminated '${': missing '}'");
  }
}

/**
 * Finds the end of the `${` expression that starts at `start`, honouring nested braces and quoted
 * strings (so `${ {a: '}'} }` is one expression). Returns -1 when the text (or, with
 * `singleLine`, the line) ends first.
 */
export function findExpressionEnd(text: string, start: number, singleLine = false): number {
  let depth = 1;
  let quote: string | null = null;
  for (let i = start + 2; i < text.length; i++) {
    const ch = text[i];
    if (singleLine && (ch === '\n' || ch === '\r')) return -1;
    if (quote !== null) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
    } else if (ch === '{') {
      depth++;
    } else if (ch === '}' && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Splits a string into literal text and `${...}` expressions. `$${` is an escaped literal `${`.
 *
 * @example splitTemplate('Hi ${input.name}!') // text 'Hi ', expr 'input.name', text '!'
 */
export function splitTemplate(value: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const at = value.indexOf('${', i);
    if (at === -1) break;
    if (at > 0 && value[at - 1] === '$') {
      // `$${` -> literal `${`
      text += value.slice(i, at - 1) + '${';
      i = at + 2;
      continue;
    }
    const end = findExpressionEnd(value, at);
    if (end === -1) throw new UnterminatedExpressionError(at);
    text += value.slice(i, at);
    if (text) parts.push({ kind: 'text', text });
    text = '';
    parts.push({ kind: 'expr', span: { start: at, end, text: value.slice(at + 2, end - 1) } });
    i = end;
  }
  text += value.slice(i);
  if (text) parts.push({ kind: 'text', text });
  return parts;
}
