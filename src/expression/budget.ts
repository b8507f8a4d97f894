import { ExpressionError } from '../errors';
import { LIMITS } from '../limits';

// Run-time budgets of expression values: no allowed function or operator may build a string or an
// array larger than LIMITS allow. Growth that a single call could make huge is checked before the
// call (so nothing is allocated), the rest right after it.

/** A value an expression built that is over budget. */
export class ExpressionLimitError extends ExpressionError {
  /** Where in the step (input key, output key) the budget ran out, once known. */
  where?: string;
  constructor(readonly what: string, source?: string) {
    super(`${what} (expression limit: strings up to ${LIMITS.expressionStringChars} characters, arrays up to ${LIMITS.expressionArrayItems} items)`, source, 'EXPRESSION_LIMIT');
  }

  /** The same refusal, naming the place (`input 'l20'`); the innermost place wins. */
  at(where: string): ExpressionLimitError {
    if (this.where !== undefined) return this;
    const e = new ExpressionLimitError(`${where}: ${this.what}`, this.source);
    e.where = where;
    return e;
  }
}

/**
 * What a value costs as text: its JSON length, with every shared part counted each time it would
 * be written. One budget spans one whole template (a step's input, its config, its condition, the
 * run's output): every value its expressions build is measured as it is built and charged against
 * `LIMITS.renderedChars`, so no way of composing values (sibling keys reading each other, arrays of
 * the same array, repeated templates, coercion to text) grows past it, in memory or in time.
 *
 * Sizes are memoized per object, so a value that doubles at each level while sharing its parts
 * (`l2: ${[l1, l1]}`) is measured in time linear in its distinct parts, not in what it would print.
 * Values are never mutated while a template renders (no allowed method mutates), so a size, once
 * known, stays right for the life of the budget.
 */
export class Budget {
  private readonly sizes = new WeakMap<object, number>();
  private readonly texts = new WeakMap<object, number>();
  private spent = 0;
  /** Characters (and items) built so far, kept or not: what the template has cost to evaluate. */
  private built = 0;

  constructor(readonly limit: number = LIMITS.renderedChars) {}

  /** The JSON length of `value` (strings with their quotes, numbers as 24), shared parts counted each time. */
  sizeOf(value: unknown): number {
    if (value === null || typeof value !== 'object') return scalarSize(value);
    const known = this.sizes.get(value);
    if (known !== undefined) return known;
    // Post-order without recursion: a value built by expressions may be nested deeper than any stack.
    const open = new Set<object>();
    const stack: object[] = [value];
    while (stack.length) {
      const node = stack[stack.length - 1]!;
      if (this.sizes.has(node)) { stack.pop(); continue; }
      const children = Array.isArray(node) ? node : Object.values(node);
      if (!open.has(node)) {
        open.add(node);
        for (const child of children) {
          if (child === null || typeof child !== 'object' || this.sizes.has(child)) continue;
          if (open.has(child)) throw new ExpressionLimitError('a value contains itself');
          stack.push(child);
        }
        continue;
      }
      stack.pop();
      open.delete(node);
      let total = 2 + Math.max(0, children.length - 1);
      for (const child of children) total += child !== null && typeof child === 'object' ? this.sizes.get(child)! : scalarSize(child);
      if (!Array.isArray(node)) for (const key of Object.keys(node)) total += key.length + 3;
      // Saturate: a size past any budget is only ever compared, never printed.
      this.sizes.set(node, Math.min(total, Number.MAX_SAFE_INTEGER));
    }
    return this.sizes.get(value)!;
  }

  /** Throws unless one value of `chars` fits what a single value may be. */
  check(chars: number, source?: string): void {
    if (chars > LIMITS.expressionStringChars) throw new ExpressionLimitError(`would build a value of ${chars} characters as text`, source);
  }

  /**
   * The length of `String(value)`, what `+` makes of it: an array joins its items' text with
   * commas (null and undefined as nothing), any other object is `[object Object]`. Memoized like
   * `sizeOf`, so a value built of shared parts is measured in time linear in its distinct parts.
   */
  textSizeOf(value: unknown): number {
    if (value === null || value === undefined) return 9;
    if (typeof value === 'string') return value.length;
    if (typeof value !== 'object') return 24;
    if (!Array.isArray(value)) return 15;
    const known = this.texts.get(value);
    if (known !== undefined) return known;
    const open = new Set<object>();
    const stack: unknown[][] = [value];
    const item = (v: unknown) => (v === null || v === undefined ? 0 : Array.isArray(v) ? this.texts.get(v)! : this.textSizeOf(v));
    while (stack.length) {
      const node = stack[stack.length - 1]!;
      if (this.texts.has(node)) { stack.pop(); continue; }
      if (!open.has(node)) {
        open.add(node);
        for (const child of node) {
          if (!Array.isArray(child) || this.texts.has(child)) continue;
          if (open.has(child)) throw new ExpressionLimitError('a value contains itself');
          stack.push(child);
        }
        continue;
      }
      stack.pop();
      open.delete(node);
      let total = Math.max(0, node.length - 1);
      for (const child of node) total += item(child);
      this.texts.set(node, Math.min(total, Number.MAX_SAFE_INTEGER));
    }
    return this.texts.get(value)!;
  }

  /**
   * Counts work: `n` characters (or items) just built, kept or not. A template may build
   * `LIMITS.renderedWorkChars` in all, so six hundred keys each building and dropping a large
   * string (`${(a + a + a).length}`) cost no more time than a few.
   */
  work(n: number, source?: string): void {
    this.built += n;
    if (this.built > LIMITS.renderedWorkChars) {
      throw new ExpressionLimitError(`this template's expressions built ${this.built} characters in all (limit ${LIMITS.renderedWorkChars}, intermediate values included)`, source);
    }
  }

  /** Charges a finished value against the whole template's budget. */
  charge(value: unknown, source?: string): void {
    this.spent += this.sizeOf(value);
    if (this.spent > this.limit) {
      throw new ExpressionLimitError(`together with the values before it, this would build ${this.spent} characters (limit ${this.limit} for one step's input, config or output)`, source);
    }
  }
}

const scalarSize = (v: unknown): number => (typeof v === 'string' ? v.length + 2 : 24);

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

const textual = (v: unknown) => typeof v === 'string' || (v !== null && typeof v === 'object');

/**
 * `a + b` within budget. Whenever the result is text (a string on either side, or an array or
 * object, which `+` turns into text: `[s, s, s] + 1`), both sides are sized before anything is built.
 */
export function plus(a: unknown, b: unknown, budget: Budget, source?: string): unknown {
  if (textual(a) || textual(b)) {
    const chars = budget.textSizeOf(a) + budget.textSizeOf(b);
    checkLength(chars, source);
    budget.work(chars, source);
  }
  return (a as number) + (b as number);
}
