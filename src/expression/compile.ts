import { ExpressionError } from '../errors';
import { parse, HYPHEN_STANDIN, type Node } from './parser';
import { LIMITS } from '../limits';
import { Budget, callArrayMethod, callStringMethod, plus, withinBudget } from './budget';
import { arrayMethods, callable, forbiddenNames, globals, stringMethods } from './functions';

/** Resolves a root identifier (`input`, `env`, a step name, a sibling input) at evaluation time. */
export type Scope = (name: string) => unknown;

/** A compiled expression: parse once, evaluate many times. */
export interface CompiledExpression {
  readonly source: string;
  /** Root identifiers the expression reads from its scope (globals such as `Math` excluded). */
  readonly roots: ReadonlySet<string>;
  /** Names read from `env` (`env.NAME`, `env['NAME']`). */
  readonly envNames: ReadonlySet<string>;
  /** True when `env` is used as a whole value or with a computed name (`env`, `env[x]`). */
  readonly envWhole: boolean;
  /** The fields read directly on each root by name (`step.output`, `step['status']`). */
  readonly rootFields: ReadonlyMap<string, ReadonlySet<string>>;
  /** Evaluates against `scope`; what it builds is charged to `budget` (a new one when none is given). */
  evaluate(scope: Scope, budget?: Budget): unknown;
}

/** A problem found while compiling; `index` is the offset in the expression text. */
export class ExpressionCompileError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

type Evaluator = (scope: Scope, budget: Budget) => unknown;
interface Context {
  source: string;
  roots: Set<string>;
  envNames: Set<string>;
  envWhole: boolean;
  rootFields: Map<string, Set<string>>;
}
type Handler = (node: Node, ctx: Context) => Evaluator;
type NodeType =
  | 'Literal' | 'Identifier' | 'MemberExpression' | 'CallExpression' | 'UnaryExpression'
  | 'BinaryExpression' | 'ConditionalExpression' | 'ArrayExpression' | 'ObjectExpression'
  | 'Compound' | 'SequenceExpression' | 'ThisExpression' | 'Property';

function fail(ctx: Context, message: string, needle?: string): never {
  const at = needle === undefined ? 0 : Math.max(0, ctx.source.indexOf(needle));
  throw new ExpressionCompileError(message, at);
}

function compileNode(node: Node, ctx: Context): Evaluator {
  const handler = (handlers as Record<string, Handler | undefined>)[node.type];
  if (!handler) fail(ctx, `unsupported syntax: ${node.type}`);
  return handler(node, ctx);
}

const identifierName = (node: Node): string => String(node.name).replaceAll(HYPHEN_STANDIN, '-');

/**
 * Reads `key` of `object` the safe way: own properties of plain data only, `length` and indices of
 * strings and arrays, undefined through null. Never walks the prototype chain.
 */
export function getMember(object: unknown, key: unknown): unknown {
  if (object === null || object === undefined) return undefined;
  if (typeof key !== 'string' && typeof key !== 'number') {
    throw new ExpressionError(`property key must be a string or number, got ${typeof key}`);
  }
  const name = String(key);
  if (forbiddenNames.has(name)) throw new ExpressionError(`access to '${name}' is not allowed`);
  if (typeof object === 'string' || Array.isArray(object)) {
    if (name === 'length') return object.length;
    return /^\d+$/.test(name) ? (object as ArrayLike<unknown>)[Number(name)] : undefined;
  }
  if (typeof object === 'object') {
    return Object.hasOwn(object, name) ? (object as Record<string, unknown>)[name] : undefined;
  }
  return undefined;
}

const binary: Record<string, (a: unknown, b: unknown) => unknown> = {
  '===': (a, b) => a === b,
  '!==': (a, b) => a !== b,
  // eslint-disable-next-line eqeqeq
  '==': (a, b) => a == b,
  // eslint-disable-next-line eqeqeq
  '!=': (a, b) => a != b,
  '<': (a, b) => (a as number) < (b as number),
  '<=': (a, b) => (a as number) <= (b as number),
  '>': (a, b) => (a as number) > (b as number),
  '>=': (a, b) => (a as number) >= (b as number),
  '-': (a, b) => (a as number) - (b as number),
  '*': (a, b) => (a as number) * (b as number),
  '/': (a, b) => (a as number) / (b as number),
  '%': (a, b) => (a as number) % (b as number),
};

const unary: Record<string, (a: unknown) => unknown> = {
  '!': (a) => !a,
  '-': (a) => -(a as number),
  '+': (a) => +(a as number),
};

function staticKey(node: Node, ctx: Context): string {
  const name = node.type === 'Identifier' ? String(node.name) : String((node as { value?: unknown }).value);
  if (forbiddenNames.has(name)) fail(ctx, `access to '${name}' is not allowed`, name);
  return name;
}

/** Operands an operator will turn into text (arrays, objects): their text is sized and counted first. */
function coerced(b: Budget, source: string, ...values: unknown[]): void {
  let chars = 0;
  for (const v of values) if (v !== null && typeof v === 'object') chars += b.textSizeOf(v);
  if (chars === 0) return;
  b.check(chars, source);
  b.work(chars, source);
}

/**
 * A call's result, measured like a literal (`l.concat(l)` shares its items as `[l, l]` does), and
 * counted as work: a string it built by its length, an array or object by its items.
 */
function measured(value: unknown, b: Budget, source: string): unknown {
  if (typeof value === 'string') b.work(value.length, source);
  else if (value !== null && typeof value === 'object') {
    b.check(b.sizeOf(value), source);
    b.work(Array.isArray(value) ? value.length : Object.keys(value).length, source);
  }
  return value;
}

const handlers = {
  Literal: (node) => {
    const value = node.value;
    return () => value;
  },
  Identifier: (node, ctx) => {
    const name = identifierName(node);
    if (forbiddenNames.has(name)) fail(ctx, `access to '${name}' is not allowed`, name);
    if (Object.hasOwn(globals, name)) {
      const value = globals[name];
      return () => value;
    }
    // `env` on its own (not `env.NAME`) would hand out every variable and secret at once.
    if (name === 'env') ctx.envWhole = true;
    ctx.roots.add(name);
    return (scope) => scope(name);
  },
  MemberExpression: (node, ctx) => {
    const target = node.object as Node;
    if (target.type === 'Identifier' && identifierName(target) === 'env') {
      const property = node.property as Node;
      const literal = !node.computed ? String(property.name) : property.type === 'Literal' && typeof property.value === 'string' ? property.value : undefined;
      if (literal === undefined) ctx.envWhole = true;
      else {
        if (forbiddenNames.has(literal)) fail(ctx, `access to '${literal}' is not allowed`, literal);
        ctx.envNames.add(literal);
        ctx.roots.add('env');
        return (scope) => getMember(scope('env'), literal);
      }
    }
    const object = compileNode(target, ctx);
    if (target.type === 'Identifier' && !Object.hasOwn(globals, identifierName(target))) {
      const property = node.property as Node;
      const field = !node.computed ? String(property.name) : property.type === 'Literal' && typeof property.value === 'string' ? property.value : undefined;
      if (field !== undefined) {
        const root = identifierName(target);
        if (!ctx.rootFields.has(root)) ctx.rootFields.set(root, new Set());
        ctx.rootFields.get(root)!.add(field);
      }
    }
    if (node.computed) {
      const property = compileNode(node.property as Node, ctx);
      return (scope, b) => getMember(object(scope, b), property(scope, b));
    }
    const key = staticKey(node.property as Node, ctx);
    return (scope, b) => getMember(object(scope, b), key);
  },
  CallExpression: (node, ctx) => {
    const args = (node.arguments as Node[]).map((a) => compileNode(a, ctx));
    const callee = node.callee as Node;
    const evalArgs = (scope: Scope, b: Budget) => args.map((a) => a(scope, b));
    if (callee.type === 'MemberExpression' && !callee.computed) {
      const object = compileNode(callee.object as Node, ctx);
      const method = staticKey(callee.property as Node, ctx);
      return (scope, b) => {
        const target = object(scope, b);
        if (typeof target === 'string' && stringMethods.has(method)) return measured(callStringMethod(target, method, evalArgs(scope, b), ctx.source), b, ctx.source);
        if (Array.isArray(target) && arrayMethods.has(method)) return measured(callArrayMethod(target, method, evalArgs(scope, b), ctx.source), b, ctx.source);
        const fn = getMember(target, method);
        if (!callable.has(fn)) throw new ExpressionError(`'${method}' is not an allowed function`, ctx.source);
        return measured(withinBudget((fn as (...a: unknown[]) => unknown)(...evalArgs(scope, b)), ctx.source), b, ctx.source);
      };
    }
    const fn = compileNode(callee, ctx);
    return (scope, b) => {
      const f = fn(scope, b);
      if (!callable.has(f)) throw new ExpressionError('not an allowed function', ctx.source);
      return measured(withinBudget((f as (...a: unknown[]) => unknown)(...evalArgs(scope, b)), ctx.source), b, ctx.source);
    };
  },
  UnaryExpression: (node, ctx) => {
    const op = unary[String(node.operator)];
    if (!op) fail(ctx, `operator '${String(node.operator)}' is not supported`, String(node.operator));
    const arg = compileNode(node.argument as Node, ctx);
    if (node.operator === '!') return (scope, b) => op(arg(scope, b));
    return (scope, b) => {
      const v = arg(scope, b);
      coerced(b, ctx.source, v);
      return op(v);
    };
  },
  BinaryExpression: (node, ctx) => {
    const operator = String(node.operator);
    const left = compileNode(node.left as Node, ctx);
    const right = compileNode(node.right as Node, ctx);
    if (operator === '&&') return (scope, b) => left(scope, b) && right(scope, b);
    if (operator === '||') return (scope, b) => left(scope, b) || right(scope, b);
    if (operator === '??') return (scope, b) => left(scope, b) ?? right(scope, b);
    if (operator === '+') return (scope, b) => plus(left(scope, b), right(scope, b), b, ctx.source);
    const op = binary[operator];
    if (!op) fail(ctx, `operator '${operator}' is not supported`, operator);
    if (operator === '===' || operator === '!==') return (scope, b) => op(left(scope, b), right(scope, b));
    // Every other operator turns an array or object into text first (`[a, a] < 1`): sized before.
    return (scope, b) => {
      const l = left(scope, b);
      const r = right(scope, b);
      coerced(b, ctx.source, l, r);
      return op(l, r);
    };
  },
  ConditionalExpression: (node, ctx) => {
    const test = compileNode(node.test as Node, ctx);
    const yes = compileNode(node.consequent as Node, ctx);
    const no = compileNode(node.alternate as Node, ctx);
    return (scope, b) => (test(scope, b) ? yes(scope, b) : no(scope, b));
  },
  ArrayExpression: (node, ctx) => {
    const items = (node.elements as (Node | null)[]).map((e) => (e ? compileNode(e, ctx) : () => undefined));
    return (scope, b) => {
      const out = items.map((item) => item(scope, b));
      // Measured as built: `[l1, l1]` of a large `l1` is refused here, not when it is printed.
      b.check(b.sizeOf(out), ctx.source);
      b.work(out.length, ctx.source);
      return out;
    };
  },
  ObjectExpression: (node, ctx) => {
    const entries = (node.properties as Node[]).map((p) => {
      if (p.type !== 'Property') fail(ctx, `unsupported syntax in object literal: ${p.type}`);
      const key = p.computed ? compileNode(p.key as Node, ctx) : (() => { const k = staticKey(p.key as Node, ctx); return () => k; })();
      const value = p.shorthand ? compileNode(p.key as Node, ctx) : compileNode(p.value as Node, ctx);
      return [key, value] as const;
    });
    return (scope, b) => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of entries) {
        const k = String(key(scope, b));
        if (forbiddenNames.has(k)) throw new ExpressionError(`key '${k}' is not allowed`, ctx.source);
        out[k] = value(scope, b);
      }
      b.check(b.sizeOf(out), ctx.source);
      b.work(entries.length, ctx.source);
      return out;
    };
  },
  Property: (_node, ctx) => fail(ctx, 'unexpected property'),
  Compound: (_node, ctx) => fail(ctx, 'one expression expected (found several; missing an operator?)'),
  SequenceExpression: (_node, ctx) => fail(ctx, "the comma operator is not supported", ','),
  ThisExpression: (_node, ctx) => fail(ctx, "'this' is not supported", 'this'),
} satisfies Record<NodeType, Handler>;

/**
 * Compiles an expression (the text between `${` and `}`). Throws ExpressionSyntaxError or
 * ExpressionCompileError, both carrying the offset of the problem.
 *
 * @example compileExpression('risk-check.output.score < 0.3', ['risk-check']).evaluate(scope)
 */
export function compileExpression(source: string, hyphenatedNames: readonly string[] = []): CompiledExpression {
  if (source.length > LIMITS.expressionChars) {
    throw new ExpressionCompileError(`expression is ${source.length} characters long (limit ${LIMITS.expressionChars}): move the logic into a code step`, 0);
  }
  const ast = parse(source, hyphenatedNames);
  const depth = treeDepth(ast, LIMITS.expressionDepth);
  if (depth > LIMITS.expressionDepth) {
    throw new ExpressionCompileError(`expression is nested too deeply (more than ${LIMITS.expressionDepth} levels): move the logic into a code step`, 0);
  }
  const ctx: Context = { source, roots: new Set(), envNames: new Set(), envWhole: false, rootFields: new Map() };
  const evaluator = compileNode(ast, ctx);
  const evaluate = (scope: Scope, budget: Budget = new Budget()) => evaluator(scope, budget);
  return { source, roots: ctx.roots, envNames: ctx.envNames, envWhole: ctx.envWhole, rootFields: ctx.rootFields, evaluate };
}

/** Depth of a syntax tree, walked without recursion (the compiler recurses, so it must not see an over-deep tree). */
function treeDepth(root: Node, stopAt: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (depth > max) max = depth;
    if (max > stopAt) return max;
    for (const child of Object.values(node as object)) {
      for (const c of Array.isArray(child) ? child : [child]) {
        if (c !== null && typeof c === 'object' && typeof (c as { type?: unknown }).type === 'string') stack.push([c, depth + 1]);
      }
    }
  }
  return max;
}
