import { compileExpression, type CompiledExpression, type Scope } from './compile';
import { splitTemplate, UnterminatedExpressionError } from './scan';
import { ExpressionSyntaxError } from './parser';
import { ExpressionCompileError } from './compile';
import { Budget, ExpressionLimitError } from './budget';

/**
 * A value from an ensemble file with its expressions compiled: the shape is kept, strings that
 * hold `${...}` become `expr` (whole value, raw result) or `interp` (string interpolation).
 */
export type Template =
  | { kind: 'const'; value: unknown }
  | { kind: 'expr'; expr: CompiledExpression }
  | { kind: 'interp'; parts: (string | CompiledExpression)[] }
  | { kind: 'array'; items: Template[] }
  | { kind: 'object'; entries: [string, Template][] }
  /** A library component (src/library/components.ts): rendered with the step's input as its scope. */
  | { kind: 'scoped'; template: Template; ref: string };

/**
 * The name under which a step's scope answers the step's own rendered input, for components
 * (`scoped`). Not an identifier: no expression can read it.
 */
export const STEP_INPUT = '#step-input';

const hasOwn = (v: unknown, k: string): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, k);

/** A component's scope: `input` is the step's input, and so is each of its top-level keys. */
export function componentScope(input: unknown): Scope {
  return (name) => (name === 'input' ? input : hasOwn(input, name) ? input[name] : undefined);
}

export type Path = (string | number)[];

/** Where in a value a compile problem is: the string's path, which `${` in it, and the offset inside. */
export interface TemplateProblem {
  path: Path;
  /** 0-based ordinal of the `${` within the string; -1 when the problem is the string itself. */
  ordinal: number;
  /** Offset inside the expression text (after `${`). */
  offset: number;
  message: string;
}

const ENV_SHORTHAND = /^\$env\.([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * Compiles a YAML-derived value once. Problems go to `problems` (all of them, not just the first);
 * the returned template is still usable for further checks.
 */
export function compileTemplate(
  value: unknown,
  hyphenatedNames: readonly string[],
  problems: TemplateProblem[],
  path: Path = [],
): Template {
  if (typeof value === 'string') return compileString(value, hyphenatedNames, problems, path);
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileTemplate(v, hyphenatedNames, problems, [...path, i]));
    return items.every((t) => t.kind === 'const') ? { kind: 'const', value } : { kind: 'array', items };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(
      ([k, v]) => [k, compileTemplate(v, hyphenatedNames, problems, [...path, k])] as [string, Template],
    );
    return entries.every(([, t]) => t.kind === 'const') ? { kind: 'const', value } : { kind: 'object', entries };
  }
  return { kind: 'const', value };
}

function compileString(value: string, hyphenated: readonly string[], problems: TemplateProblem[], path: Path): Template {
  const env = ENV_SHORTHAND.exec(value);
  if (env) return compileOne(`env.${env[1]}`, hyphenated, problems, path, 0) ?? { kind: 'const', value };
  let parts;
  try {
    parts = splitTemplate(value);
  } catch (err) {
    if (!(err instanceof UnterminatedExpressionError)) throw err;
    problems.push({ path, ordinal: -1, offset: err.index, message: err.message });
    return { kind: 'const', value };
  }
  if (!parts.some((p) => p.kind === 'expr')) {
    return { kind: 'const', value: parts.map((p) => (p.kind === 'text' ? p.text : '')).join('') };
  }
  let ordinal = 0;
  const compiled: (string | CompiledExpression)[] = [];
  for (const part of parts) {
    if (part.kind === 'text') {
      compiled.push(part.text);
      continue;
    }
    const expr = compileOne(part.span.text, hyphenated, problems, path, ordinal++);
    if (expr?.kind === 'expr') compiled.push(expr.expr);
  }
  if (parts.length === 1 && compiled.length === 1 && typeof compiled[0] !== 'string') {
    return { kind: 'expr', expr: compiled[0]! };
  }
  return { kind: 'interp', parts: compiled };
}

function compileOne(
  text: string,
  hyphenated: readonly string[],
  problems: TemplateProblem[],
  path: Path,
  ordinal: number,
): Template | undefined {
  try {
    return { kind: 'expr', expr: compileExpression(text, hyphenated) };
  } catch (err) {
    if (err instanceof ExpressionSyntaxError || err instanceof ExpressionCompileError) {
      problems.push({ path, ordinal, offset: err.index, message: err.message });
      return undefined;
    }
    throw err;
  }
}

/** Turns a value into the text it shows inside a longer string: objects as JSON, null as ''. */
export function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

type Renderer<T> = (t: T, scope: Scope, budget: Budget, path: string) => unknown;

const renderers = {
  const: (t, _scope, budget) => {
    budget.charge(t.value);
    return t.value;
  },
  expr: (t, scope, budget) => {
    const value = t.expr.evaluate(scope, budget);
    budget.charge(value, t.expr.source);
    return value;
  },
  interp: (t, scope, budget) => {
    // Every part is sized before the text is joined: 200 × `${a}` in one string is refused before
    // it exists, and so is an object part before it is turned into JSON.
    let chars = 0;
    const texts = t.parts.map((p) => {
      if (typeof p === 'string') {
        chars += p.length;
        return p;
      }
      const value = p.evaluate(scope, budget);
      chars += typeof value === 'string' ? value.length : budget.sizeOf(value);
      budget.check(chars, p.source);
      return stringify(value);
    });
    const text = texts.join('');
    budget.work(text.length);
    budget.charge(text);
    return text;
  },
  array: (t, scope, budget, path) => t.items.map((item, i) => renderAt(item, scope, budget, `${path}[${i}]`)),
  object: (t, scope, budget, path) => Object.fromEntries(t.entries.map(([k, v]) => [k, renderAt(v, scope, budget, path ? `${path}.${k}` : k)])),
  scoped: (t, scope, budget, path) => renderAt(t.template, componentScope(scope(STEP_INPUT)), budget, path),
} satisfies { [K in Template['kind']]: Renderer<Extract<Template, { kind: K }>> };

function renderAt(template: Template, scope: Scope, budget: Budget, path: string): unknown {
  try {
    return (renderers[template.kind] as Renderer<Template>)(template, scope, budget, path);
  } catch (e) {
    // The innermost place names the refusal: `output.summary`, not just `output`.
    if (e instanceof ExpressionLimitError) throw e.at(path || 'value');
    throw e;
  }
}

/**
 * Evaluates a compiled template against a scope. Everything its expressions build is charged to
 * one budget (a new one unless given), so the template as a whole stays within
 * `LIMITS.renderedChars`; `path` names where a refusal happened (`output`, `input.summary`).
 */
export function renderTemplate(template: Template, scope: Scope, budget = new Budget(), path = ''): unknown {
  return renderAt(template, scope, budget, path);
}

/** Every root identifier a template reads, e.g. to check step references at load time. */
export function templateRoots(template: Template, into = new Set<string>()): Set<string> {
  switch (template.kind) {
    case 'expr':
      for (const r of template.expr.roots) into.add(r);
      break;
    case 'interp':
      for (const p of template.parts) if (typeof p !== 'string') for (const r of p.roots) into.add(r);
      break;
    case 'array':
      for (const i of template.items) templateRoots(i, into);
      break;
    case 'object':
      for (const [, v] of template.entries) templateRoots(v, into);
      break;
    case 'const':
    case 'scoped':
      break;
  }
  return into;
}

/** True when the template holds no expression (its value is known at load time). */
export const isStatic = (t: Template): t is { kind: 'const'; value: unknown } => t.kind === 'const';

/**
 * Visits every compiled expression with the path of its string and its ordinal in that string,
 * so load-time checks can point at the exact `${` in the file.
 */
export function forEachExpression(
  template: Template,
  path: Path,
  visit: (expr: CompiledExpression, path: Path, ordinal: number) => void,
): void {
  switch (template.kind) {
    case 'expr':
      visit(template.expr, path, 0);
      break;
    case 'interp': {
      let ordinal = 0;
      for (const p of template.parts) if (typeof p !== 'string') visit(p, path, ordinal++);
      break;
    }
    case 'array':
      template.items.forEach((item, i) => forEachExpression(item, [...path, i], visit));
      break;
    case 'object':
      for (const [k, v] of template.entries) forEachExpression(v, [...path, k], visit);
      break;
    case 'const':
    case 'scoped':
      break;
  }
}

/** The template at `path` inside `template` (object keys and array indices), if there is one. */
export function templateAt(template: Template, path: readonly (string | number)[]): Template | undefined {
  let t: Template | undefined = template;
  for (const key of path) {
    if (!t) return undefined;
    if (t.kind === 'object') t = t.entries.find(([k]) => k === String(key))?.[1];
    else if (t.kind === 'array') t = t.items[Number(key)];
    else if (t.kind === 'const') {
      const v: unknown = t.value;
      const next = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[String(key)] : undefined;
      t = next === undefined ? undefined : { kind: 'const', value: next };
    } else return undefined;
  }
  return t;
}

/** A piece of a string as written: literal text, or the source of one `${...}` expression. */
export type WrittenPart = string | { expr: string };

/**
 * A string template as written, as parts (`["https://", { expr: "env.HOOK" }, "/x"]`), or
 * undefined for anything else. Parts, not text: literal text that reads like `${...}` (written
 * `$${...}`) stays text, and can never be taken for an expression later.
 */
export function writtenParts(template: Template): WrittenPart[] | undefined {
  if (template.kind === 'expr') return [{ expr: template.expr.source }];
  if (template.kind === 'interp') return template.parts.map((p) => (typeof p === 'string' ? p : { expr: p.source }));
  if (template.kind === 'const' && typeof template.value === 'string') return [template.value];
  return undefined;
}
