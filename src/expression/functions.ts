import { ExpressionError } from '../errors';
import { depthOf, LIMITS } from '../limits';
import { ensureFits, estimateChars } from './budget';
// The allowlist: the only functions an expression can call, and the only names it can read
// without a scope. Everything here is pure and synchronous.

const mathFunctions = [
  'abs', 'ceil', 'floor', 'round', 'trunc', 'sign', 'min', 'max', 'pow', 'sqrt', 'cbrt', 'log',
  'log10', 'log2', 'exp', 'random', 'hypot',
] as const;

function namespace(entries: Record<string, unknown>): Readonly<Record<string, unknown>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, unknown>, entries));
}

export const MathNamespace = namespace({
  ...Object.fromEntries(mathFunctions.map((name) => [name, Math[name]])),
  PI: Math.PI,
  E: Math.E,
});

/** JSON.parse, with a message that never quotes the text (it may hold a secret) and a depth bound. */
const parseJson = (text: unknown): unknown => {
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch {
    throw new ExpressionError('JSON.parse: the text is not valid JSON');
  }
  if (depthOf(value, LIMITS.valueDepth) > LIMITS.valueDepth) throw new ExpressionError(`JSON.parse: nested more than ${LIMITS.valueDepth} levels deep`, undefined, 'EXPRESSION_LIMIT');
  return value;
};
const stringifyJson = (value: unknown, _replacer?: unknown, space?: unknown): string | undefined => {
  const indent = typeof space === 'number' || typeof space === 'string' ? space : undefined;
  // Sized before it is built: indentation multiplies a large value by its depth.
  ensureFits(estimateChars(value, typeof indent === 'number' ? Math.min(10, Math.max(0, indent)) : typeof indent === 'string' ? Math.min(10, indent.length) : 0));
  return JSON.stringify(value, null, indent);
};

export const JsonNamespace = namespace({ parse: parseJson, stringify: stringifyJson });

/** `Date.now()`: epoch milliseconds (the conductor docs' spelling; `now()` gives ISO text). */
const epochNow = (): number => Date.now();
export const DateNamespace = namespace({ now: epochNow });

const now = (): string => new Date().toISOString();
const toStr = (v: unknown): string => {
  if (v !== null && typeof v === 'object') {
    ensureFits(estimateChars(v));
    return JSON.stringify(v);
  }
  return String(v);
};

/** Names readable without a scope entry. */
export const globals: Readonly<Record<string, unknown>> = namespace({
  Math: MathNamespace,
  JSON: JsonNamespace,
  Date: DateNamespace,
  now,
  String: toStr,
  Number: (v: unknown) => Number(v),
  Boolean: (v: unknown) => Boolean(v),
  undefined,
});

/** Functions an expression may call; identity-checked, so data can never smuggle one in. */
export const callable: ReadonlySet<unknown> = new Set<unknown>([
  ...Object.values(MathNamespace).filter((v) => typeof v === 'function'),
  parseJson,
  stringifyJson,
  epochNow,
  now,
  globals.String,
  globals.Number,
  globals.Boolean,
]);

/** Safe methods by receiver type: none take callbacks, none can allocate without bound. */
export const stringMethods: ReadonlySet<string> = new Set([
  'includes', 'startsWith', 'endsWith', 'indexOf', 'lastIndexOf', 'slice', 'substring', 'at',
  'toUpperCase', 'toLowerCase', 'trim', 'trimStart', 'trimEnd', 'split', 'replace', 'replaceAll',
  'concat', 'charAt',
]);

export const arrayMethods: ReadonlySet<string> = new Set([
  'includes', 'indexOf', 'lastIndexOf', 'join', 'slice', 'at', 'concat',
]);

/** Property names no expression may touch, on any value. */
export const forbiddenNames: ReadonlySet<string> = new Set([
  'constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__',
  '__lookupGetter__', '__lookupSetter__',
]);
