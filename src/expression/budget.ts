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
    checkLength(args.reduce<number>((n, a) => n + String(a).length, target.length), source);
  }
  const fn = (String.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
  return withinBudget(fn.apply(target, args), source);
}

/** Calls an allowed array method within budget (`join` is sized before it is built). */
export function callArrayMethod(target: unknown[], method: string, args: unknown[], source?: string): unknown {
  if (method === 'join') {
    const separator = args[0] === undefined ? ',' : String(args[0]);
    if (target.length > LIMITS.expressionArrayItems) throw new ExpressionLimitError(`would join ${target.length} items`, source);
    checkLength(separator.length * Math.max(0, target.length - 1), source);
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
    const left = typeof a === 'string' ? a.length : String(a).length;
    const right = typeof b === 'string' ? b.length : String(b).length;
    checkLength(left + right, source);
  }
  return (a as number) + (b as number);
}
