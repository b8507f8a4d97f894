// The only importer of jsep: the grammar of `${...}` expressions is configured here, once.
import jsep from 'jsep';
import jsepObject from '@jsep-plugin/object';

jsep.plugins.register(jsepObject);
// `??` binds like `||` here; mixing them needs parentheses in JS anyway.
jsep.addBinaryOp('??', 1);
// Only the operators DESIGN §4 promises; anything else is a syntax error at load time.
for (const op of ['|', '^', '&', '<<', '>>', '>>>']) jsep.removeBinaryOp(op);
jsep.removeUnaryOp('~');

export type Node = jsep.Expression;

/** jsep reports where parsing failed; we keep that index so problems point at the character. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

// A hyphen inside a declared step name becomes this identifier character (same width, so
// columns still line up); evaluation maps it back to '-'.
export const HYPHEN_STANDIN = '\u2010';

const IDENT = /[A-Za-z0-9_$\u2010]/;

/**
 * Rewrites hyphenated step names (`risk-check`) so jsep reads them as one identifier. A hyphen is
 * part of a name only when the whole run of characters is a declared step name and it starts an
 * identifier (not after `.`), outside string literals; otherwise it stays a minus.
 */
export function joinHyphenatedNames(text: string, hyphenated: readonly string[]): string {
  if (hyphenated.length === 0 || !text.includes('-')) return text;
  const names = [...hyphenated].sort((a, b) => b.length - a.length);
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote !== null) {
      out += ch;
      if (ch === '\\' && i + 1 < text.length) out += text[++i];
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      out += ch;
      continue;
    }
    const prev = i > 0 ? text[i - 1]! : '';
    const startsIdent = /[A-Za-z_$]/.test(ch) && !IDENT.test(prev) && !prevIsDot(text, i);
    if (startsIdent) {
      const name = names.find(
        (n) => text.startsWith(n, i) && !IDENT.test(text[i + n.length] ?? ''),
      );
      if (name) {
        out += name.replaceAll('-', HYPHEN_STANDIN);
        i += name.length - 1;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

function prevIsDot(text: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0 && /\s/.test(text[j]!)) j--;
  return j >= 0 && text[j] === '.';
}

/** Parses one expression (without `${` `}`); throws ExpressionSyntaxError with the failing index. */
export function parse(text: string, hyphenatedNames: readonly string[] = []): Node {
  if (text.trim() === '') throw new ExpressionSyntaxError('empty expression', 0);
  try {
    return jsep(joinHyphenatedNames(text, hyphenatedNames));
  } catch (err) {
    // jsep recurses on nesting: a pathological expression overflows the stack instead of parsing.
    if (err instanceof RangeError) throw new ExpressionSyntaxError('expression is nested too deeply', 0);
    const e = err as { description?: string; index?: number; message?: string };
    throw new ExpressionSyntaxError(e.description ?? e.message ?? 'syntax error', e.index ?? 0);
  }
}
