import { StepError } from '../errors';
import { compileTemplate, type Path, type Template, type TemplateProblem } from '../expression/template';
import type { CompiledExpression } from '../expression/compile';
import type { Library } from './library';
import { suggest } from '../ensemble/suggest';

// Components in a step: `prompt://name@version` (a whole string) or `{ component: name@version }`
// (a mapping with that one key), wherever a step's config or input holds a value. Each is resolved
// when the ensemble loads, into a template rendered with the step's input as its scope: conductor's
// `{{input.x}}` (or `{{x}}`, a key of the step's input) and our `${input.x}` both work in a
// component. What cannot be resolved is a load problem, never text sent on: a reference to
// nothing, a placeholder that reads what the step's input does not give, and `{{...}}` written
// outside a component (where it would be sent as it is).

export const PROMPT_SCHEME = 'prompt://';
const LITERAL_PLACEHOLDER = /\{\{[^{}]*\}\}/;
/** Conductor's other component references (`template://x@v`, `prompts/x@v`): never sent as text. */
const OTHER_REFERENCE = /^(template|query|config|schema|script|docs|page|form|component):\/\/\S+$|^(prompts|configs|templates|queries|schemas|scripts)\/[\w./-]+@[\w.-]+$/;

export interface ComponentUse {
  library?: Library;
  /** Library files used so far (a run keeps them with its definition). */
  used: Set<string>;
  hyphenated: readonly string[];
  report: (path: Path, message: string) => void;
  /** The step input's top-level keys, when known at load time. */
  inputKeys?: ReadonlySet<string>;
  /** Config fields whose text is the kind's own template language (`{{` is theirs). */
  ownTemplates: readonly (readonly string[])[];
  /** Resolving the step's input: its components cannot read the input they are part of. */
  inInput: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const referenceOf = (v: unknown): string | undefined => {
  if (typeof v === 'string' && v.startsWith(PROMPT_SCHEME)) return v.slice(PROMPT_SCHEME.length);
  return undefined;
};

/** A step's config or input with its component references resolved; problems reported. */
export function resolveComponents(t: Template, path: Path, use: ComponentUse): Template {
  // A field of the kind's own template language, relative to the config (`template`).
  const own = (p: Path) => use.ownTemplates.some((o) => o.length <= p.length - path.length && o.every((k, i) => String(p[path.length + i]) === k));
  const walkValue = (v: unknown, p: Path): Template | undefined => {
    const ref = referenceOf(v);
    if (ref !== undefined) return component(ref, p, use, own(p));
    if (typeof v === 'string') {
      if (!own(p) && LITERAL_PLACEHOLDER.test(v)) literal(v, p, use);
      else if (OTHER_REFERENCE.test(v)) {
        use.report(p, `'${v.slice(0, 80)}' is one of conductor's component references, which would be sent as it is: here a component is \`prompt://name@version\` or \`{ component: name@version }\`, found in prompts/`);
      }
      return undefined;
    }
    if (Array.isArray(v)) {
      const items = v.map((x, i) => walkValue(x, [...p, i]));
      return items.some(Boolean) ? { kind: 'array', items: items.map((x, i) => x ?? { kind: 'const', value: v[i] }) } : undefined;
    }
    if (isObject(v) && typeof v.component === 'string') {
      // `component:` beside other keys: the component's mapping, with those keys merged over it.
      const { component: ref, ...rest } = v;
      const base = component(ref, [...p, 'component'], use);
      if (Object.keys(rest).length === 0) return base;
      if (!base) return { kind: 'const', value: rest };
      if (base.kind !== 'const' || !isObject(base.value)) {
        use.report([...p, 'component'], `component '${ref}' is not a mapping without placeholders, so keys cannot be merged over it`);
        return { kind: 'const', value: rest };
      }
      const merged = { ...base.value, ...rest };
      return walkValue(merged, p) ?? { kind: 'const', value: merged };
    }
    if (isObject(v)) {
      const entries = Object.entries(v).map(([k, x]) => [k, walkValue(x, [...p, k])] as const);
      return entries.some(([, x]) => x) ? { kind: 'object', entries: entries.map(([k, x]) => [k, x ?? { kind: 'const', value: v[k] }]) } : undefined;
    }
    return undefined;
  };
  const walk = (t: Template, p: Path): Template => {
    switch (t.kind) {
      case 'const':
        return walkValue(t.value, p) ?? t;
      case 'array':
        return { kind: 'array', items: t.items.map((x, i) => walk(x, [...p, i])) };
      case 'object': {
        const ref = t.entries.find(([k, x]) => k === 'component' && x.kind === 'const' && typeof x.value === 'string')?.[1];
        const entries = t.entries.filter(([k]) => !ref || k !== 'component').map(([k, x]) => [k, walk(x, [...p, k])] as [string, Template]);
        if (!ref) return { kind: 'object', entries };
        // `component:` beside keys with expressions: its mapping, those keys merged over it.
        const name = String((ref as { value: unknown }).value);
        const base = component(name, [...p, 'component'], use);
        if (base && (base.kind !== 'const' || !isObject(base.value))) use.report([...p, 'component'], `component '${name}' is not a mapping without placeholders, so keys cannot be merged over it`);
        const baseEntries = base?.kind === 'const' && isObject(base.value) ? Object.entries(base.value).filter(([k]) => !entries.some(([e]) => e === k)).map(([k, v]) => [k, { kind: 'const', value: v }] as [string, Template]) : [];
        return { kind: 'object', entries: [...baseEntries, ...entries] };
      }
      case 'interp': {
        const text = t.parts.filter((x): x is string => typeof x === 'string');
        if (typeof t.parts[0] === 'string' && t.parts[0].startsWith(PROMPT_SCHEME)) {
          use.report(p, 'a component reference is resolved when the ensemble loads: write its name and version, not an expression');
        } else if (!own(p) && text.some((x) => LITERAL_PLACEHOLDER.test(x))) literal(text.join(''), p, use);
        return t;
      }
      default:
        return t;
    }
  };
  return walk(t, path);
}

function literal(text: string, p: Path, use: ComponentUse) {
  const found = LITERAL_PLACEHOLDER.exec(text)?.[0] ?? '{{...}}';
  use.report(p, `${found} would be sent as it is: conductor's {{...}} placeholders are rendered in prompt components (prompts/) only; here write \${${found.slice(2, -2).trim()}} (or \${'{{'} for the literal braces)`);
}

/** One referenced component, as a template rendered with the step's input. */
function component(ref: string, p: Path, use: ComponentUse, raw = false): Template | undefined {
  const found = use.library?.component(ref);
  if (!found) {
    const names = use.library?.componentNames() ?? [];
    const close = suggest(ref.replace(/@.*$/, ''), names);
    use.report(p, `component '${ref}' does not exist${close ? ` — did you mean '${close}'?` : ` (prompts/ has ${names.length ? names.slice(0, 20).map((n) => `'${n}'`).join(', ') : 'none'})`}`);
    return undefined;
  }
  if ('problem' in found) {
    use.report(p, found.problem);
    return undefined;
  }
  const c = found.found;
  use.used.add(c.file);
  const label = `${c.name}${c.version ? `@${c.version}` : ''}`;
  referencesIn(c.value, (message) => use.report(p, `component '${label}' (${c.file}) ${message}`));
  // In a field of the kind's own template language (an html template), the text goes as written:
  // its `{{ }}` are that language's (escaped by it), never our expressions.
  if (raw) return { kind: 'const', value: c.value };
  const problems: TemplateProblem[] = [];
  const converted = placeholders(c.value, (message) => use.report(p, `component '${label}' (${c.file}): ${message}`));
  const t = compileTemplate(converted, use.hyphenated, problems, []);
  for (const problem of problems.slice(0, 5)) use.report(p, `component '${label}' (${c.file}): invalid placeholder: ${problem.message}`);
  if (t.kind === 'const') return t;
  if (use.inInput) {
    use.report(p, `component '${label}' has placeholders, which read the step's input: use it in the step's config (a prompt), not in its input`);
    return undefined;
  }
  const allowed = new Set(['input', ...(use.inputKeys ?? [])]);
  const strict = mapExpressions(t, (e) => {
    for (const root of e.roots) {
      if (!allowed.has(root)) {
        const keys = use.inputKeys ? [...use.inputKeys] : [];
        use.report(p, `component '${label}' (${c.file}) reads '${root}', which the step's input does not give (${keys.length ? `its keys: ${keys.join(', ')}` : 'write the step\'s `input:` as a mapping with that key'})`);
      }
    }
    return {
      ...e,
      evaluate(scope, budget) {
        const value = e.evaluate(scope, budget);
        if (value === undefined) throw new StepError('COMPONENT_VALUE_MISSING', `component '${label}': {{${e.source}}} has no value in the step's input, so it was not sent`);
        return value;
      },
    };
  });
  return { kind: 'scoped', template: strict, ref: label };
}

/** `{{ x }}` written as `${x}` in every string of a component; block helpers are problems. */
function placeholders(value: unknown, report: (message: string) => void): unknown {
  if (typeof value === 'string') return convertText(value, report);
  if (Array.isArray(value)) return value.map((v) => placeholders(v, report));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, placeholders(v, report)]));
  return value;
}

/** One pass, linear in the text (an unclosed `{{` ends the scan: the rest is text). */
function convertText(text: string, report: (message: string) => void): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = text.indexOf('{{', at);
    if (open === -1) break;
    const triple = text[open + 2] === '{';
    const close = text.indexOf('}}', open + (triple ? 3 : 2));
    if (close === -1) break;
    const end = triple && text[close + 2] === '}' ? close + 3 : close + 2;
    const body = text.slice(open + (triple ? 3 : 2), close).trim();
    out += text.slice(at, open);
    if (body.startsWith('!')) {
      // A comment: dropped.
    } else if (/^[#/^>]|^else\b/.test(body)) {
      report(`{{${body.slice(0, 30)}}} is a Handlebars block or partial, which is not supported: compute the text in an earlier step (or a \${cond ? a : b} expression)`);
    } else out += `\${${body}}`;
    at = end;
  }
  return out + text.slice(at);
}

/** Conductor's references left inside a component's own text would be sent as they are. */
function referencesIn(value: unknown, report: (message: string) => void, depth = 0): void {
  if (depth > 64) return;
  if (typeof value === 'string') {
    const found = /\bprompt:\/\/\S+|\b(template|query|config|schema|script|docs|page|form|component):\/\/\S+/.exec(value);
    if (found) report(`holds '${found[0].slice(0, 60)}', a reference that is not resolved inside a component (it would be sent as it is): write the text it stands for`);
  } else if (Array.isArray(value)) value.forEach((v) => referencesIn(v, report, depth + 1));
  else if (isObject(value)) for (const v of Object.values(value)) referencesIn(v, report, depth + 1);
}

function mapExpressions(t: Template, f: (e: CompiledExpression) => CompiledExpression): Template {
  switch (t.kind) {
    case 'expr':
      return { kind: 'expr', expr: f(t.expr) };
    case 'interp':
      return { kind: 'interp', parts: t.parts.map((x) => (typeof x === 'string' ? x : f(x))) };
    case 'array':
      return { kind: 'array', items: t.items.map((x) => mapExpressions(x, f)) };
    case 'object':
      return { kind: 'object', entries: t.entries.map(([k, x]) => [k, mapExpressions(x, f)]) };
    default:
      return t;
  }
}
