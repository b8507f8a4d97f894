import { ExpressionError } from '../errors';
import { LIMITS } from '../limits';

// Run-time budgets of expression values: no allowed function or operator may build a string or an
// array larger than LIMITS allow. Growth that a single call could make huge is checked before the
// call (so nothing is allocated), the rest right after it.

/** A value an expression built that is over budget. */
export class ExpressionLimitError extends ExpressionError {
  constructor(what: string, source?: string) {
    super(`${what} (expression limit: strings up to ${LIMITS.expressionStringChars} characters, arrays up to ${LIMITS.expressionArrayItems} items)`, source, 'EXPRESSION_LIMIT');
  }
}

function checkLength(chars: number, source?: string): void {
  if (chars > LIMITS.expressionStringChars) throw new ExpressionLimitError(`would build a string of ${chars} characters`, source);
}

/**
 * An upper bound of the characters `String(value)` or `JSON.stringify(value, null, space)` would
 * produce, computed without building anything (iterative; stops once past the budget).
 */
export function estimateChars(value: unknown, space = 0): number {
  // Characters count once: escaping can add some, but the result is checked again once built; the
  // estimate is there to refuse what would multiply (indentation, repetition) before it is built.
  const perChar = 1;
  const limit = LIMITS.expressionStringChars;
  let total = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    // Per value: quotes and separators, and with indentation a line break plus `space` per level.
    total += 4 + (space ? 1 + space * depth : 0);
    if (typeof v === 'string') total += v.length * perChar;
    else if (typeof v === 'number' || typeof v === 'bigint') total += 24;
    else if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { total += k.length * perChar + 4; stack.push([x, depth + 1]); }
    if (total > limit) return total;
  }
  return total;
}

/** Throws unless text of about `chars` characters fits the budget (to be called before building it). */
export function ensureFits(chars: number, source?: string): void {
  checkLength(chars, source);
}

/** Throws when an expression's result is over budget; returns it otherwise. */
export function withinBudget<T>(value: T, source?: string): T {
  if (typeof value === 'string') checkLength(value.length, source);
  else if (Array.isArray(value) && value.length > LIMITS.expressionArrayItems) throw new ExpressionLimitError(`would build an array of ${value.length} items`, source);
  return value;
}

const count = (text: string, find: string) => {
  if (find === '') return text.length + 1;
  let n = 0;
  for (let at = text.indexOf(find); at !== -1; at = text.indexOf(find, at + find.length)) n++;
  return n;
};

/**
 * Calls an allowed string method within budget. `replace`/`replaceAll` take their replacement
 * literally (no `$&`, `` $` `` patterns, which could repeat the whole text once per match), and their
 * result size is computed before anything is built.
 */
export function callStringMethod(target: string, method: string, args: unknown[], source?: string): unknown {
  if (method === 'replace' || method === 'replaceAll') {
    const find = String(args[0]);
    const replacement = String(args[1]);
    const matches = method === 'replace' ? Math.min(1, count(target, find)) : count(target, find);
    checkLength(target.length + matches * (replacement.length - find.length), source);
    return method === 'replace' ? target.replace(find, () => replacement) : target.replaceAll(find, () => replacement);
  }
  if (method === 'split') {
    const limit = args[1] === undefined ? LIMITS.expressionArrayItems + 1 : Math.min(Number(args[1]) >>> 0, LIMITS.expressionArrayItems + 1);
    return withinBudget(target.split(String(args[0] ?? ''), limit), source);
  }
  if (method === 'concat') {
    checkLength(args.reduce<number>((n, a) => n + (typeof a === 'string' ? a.length : estimateChars(a)), target.length), source);
  }
  // Case mapping can grow text ('ß' -> 'SS', 'ﬃ' -> 'FFI'): at most three times.
  if (method === 'toUpperCase' || method === 'toLowerCase') checkLength(target.length * 3, source);
  const fn = (String.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
  return withinBudget(fn.apply(target, args), source);
}

/** Calls an allowed array method within budget (`join` is sized before it is built). */
export function callArrayMethod(target: unknown[], method: string, args: unknown[], source?: string): unknown {
  if (method === 'join') {
    const separator = args[0] === undefined ? ',' : String(args[0]);
    if (target.length > LIMITS.expressionArrayItems) throw new ExpressionLimitError(`would join ${target.length} items`, source);
    checkLength(separator.length * Math.max(0, target.length - 1) + estimateChars(target), source);
  }
  if (method === 'concat') {
    const items = args.reduce<number>((n, a) => n + (Array.isArray(a) ? a.length : 1), target.length);
    if (items > LIMITS.expressionArrayItems) throw new ExpressionLimitError(`would build an array of ${items} items`, source);
  }
  const fn = (Array.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
  return withinBudget(fn.apply(target, args), source);
}

/** `a + b` within budget: two strings (or a string and anything) are sized before they are joined. */
export function plus(a: unknown, b: unknown, source?: string): unknown {
  if (typeof a === 'string' || typeof b === 'string') {
    const size = (v: unknown) => (typeof v === 'string' ? v.length : estimateChars(v));
    checkLength(size(a) + size(b), source);
  }
  return (a as number) + (b as number);
}
