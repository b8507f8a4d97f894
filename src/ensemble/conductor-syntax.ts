import type { Path } from '../expression/template';
import { LIMITS } from '../limits';

// Conductor's reference forms that this runtime does not read, found in a file's values before
// they are compiled: each is one problem, never text sent on as it is.

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const LEGACY_ROOTS = new Set(['input', 'inputs', 'state', 'trigger', 'steps', 'agents', 'context', 'output']);

/**
 * Conductor's reference forms that are not ours: `$input.x` / `$step.field` (its older form, a whole
 * value), `${{ expr }}`, and, in a file written in its dialect, `$${x}` (a dollar sign and a value
 * there; our escape for the literal text `${x}` here). Each is a problem; the string is blanked.
 */
export function conductorSyntax(value: unknown, path: Path, names: ReadonlySet<string>, conductorFile: boolean, report: (at: Path, message: string) => void, depth = 0): unknown {
  if (depth > LIMITS.yamlDepth) return value;
  if (typeof value === 'string') {
    const legacy = /^\$([A-Za-z_][\w-]*)((?:\.[\w-]+|\[\d+\])*)$/.exec(value.trim());
    if (legacy && legacy[1] !== 'env' && (LEGACY_ROOTS.has(legacy[1]!) || names.has(legacy[1]!))) {
      // A step's result is its `output` here (`$fetch.rows` is `${fetch.output.rows}`).
      const [, root, rest] = legacy;
      const field = rest!.replace(/^\./, '').split(/[.[]/)[0];
      const written = names.has(root!) && !LEGACY_ROOTS.has(root!) && !['output', 'status', 'error', 'executed', 'success', 'input'].includes(field!) ? `${root}.output${rest}` : `${root}${rest}`;
      report(path, `'${value.trim().slice(0, 60)}' is conductor's older reference, which would be sent as it is: write \`\${${written.slice(0, 60)}}\``);
      return '';
    }
    // `${{a: 1}}` is an object literal here; conductor's `${{ expr }}` is a member, a call, an operator.
    if (/\$\{\{(?!\s*(?:[A-Za-z_$][\w$]*|'[^']*'|"[^"]*")\s*[:,}]|\s*\}|\s*\.\.\.)/.test(value)) {
      report(path, `\`\${{ ... }}\` is written \`\${ ... }\` here (one pair of braces)`);
      return '';
    }
    if (conductorFile && /\$\$\{/.test(value)) {
      report(path, "`$${x}` is this runtime's escape for the literal text `${x}`, which would be sent as it is: for a dollar sign followed by the value write `${'$' + x}`");
      return '';
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => conductorSyntax(v, [...path, i], names, conductorFile, report, depth + 1));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, conductorSyntax(v, [...path, k], names, conductorFile, report, depth + 1)]));
  return value;
}

/** A value with text that reads like an expression or a placeholder somewhere in it. */
export function holdsTemplate(v: unknown, depth = 0): boolean {
  if (depth > LIMITS.yamlDepth) return false;
  if (typeof v === 'string') return v.includes('${') || /\{\{[^{}]*\}\}/.test(v);
  if (Array.isArray(v)) return v.some((x) => holdsTemplate(x, depth + 1));
  if (isPlainObject(v)) return Object.values(v).some((x) => holdsTemplate(x, depth + 1));
  return false;
}

