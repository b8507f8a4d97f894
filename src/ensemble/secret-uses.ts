import { forEachExpression, templateAt, type Path, type Template } from '../expression/template';
import type { CompiledExpression } from '../expression/compile';
import { isInfraSecret } from '../secrets';

/**
 * Where a step may use a secret: paths relative to its config (`*` for any key), e.g. an http
 * step's `url` and `headers.*`, a notification's `webhookUrl`. Each step kind declares its own.
 */
export type CredentialPaths = readonly (readonly string[])[];

export interface SecretRules {
  /**
   * The field whose value says where the credentials go (an http step's `url`): when the step uses
   * a secret, its scheme and host must be fixed in the file (literal text or env), never built
   * from the run's input or steps, or the caller of a run could send the secret anywhere.
   */
  destination?: readonly string[];
  /** Env names that are configuration (src/secrets.ts): usable anywhere. */
  publicEnv: ReadonlySet<string>;
  /** Where this template's values are consumed by the Worker, relative to `base` (empty: nowhere). */
  credentials: CredentialPaths;
  /**
   * Credential fields stored with the run until they are used (a hitl notification's webhookUrl):
   * kept as written and completed when sent, so they may read env alone.
   */
  storedAsWritten: boolean;
}

export interface SecretProblem {
  path: Path;
  ordinal: number;
  /** Offset of the name inside the expression text. */
  offset: number;
  message: string;
}

const matches = (pattern: readonly string[], rel: Path) =>
  pattern.length === rel.length && pattern.every((p, i) => p === '*' || p === String(rel[i]));

/** True when `rel` (a path inside a step's config) is one of the kind's credential fields. */
export const isCredentialPath = (credentials: CredentialPaths, rel: Path) => credentials.some((c) => matches(c, rel));

const verbatim = (expr: CompiledExpression, name: string) => {
  const text = expr.source.replace(/\s+/g, '');
  return text === `env.${name}` || text === `env['${name}']` || text === `env["${name}"]`;
};

const where = (rel: Path, what: string) => (rel.length ? `${what}.${rel.join('.')}` : what);

/**
 * The secrets model, checked on every expression of a template: a secret (an env name that is not
 * configuration) may appear only in a credential field of its step kind, and only as it is
 * (`${env.NAME}`, nothing applied to it), so that nothing stored, shown, logged or sent on can
 * hold it in any form, and an endpoint that echoes it is redacted by its exact text.
 *
 * @example checkSecretUses(config, ['agents', 0, 'config'], 'config', rules) // [] or problems
 */
export function checkSecretUses(template: Template, base: Path, what: string, rules: SecretRules): SecretProblem[] {
  const problems: SecretProblem[] = [];
  const strings = new Map<string, { usesSecret: boolean; others: SecretProblem[] }>();
  let usesAnySecret = false;
  forEachExpression(template, base, (expr, exprPath, ordinal) => {
    const rel = exprPath.slice(base.length);
    const credential = isCredentialPath(rules.credentials, rel);
    const secrets = [...expr.envNames].filter((n) => !rules.publicEnv.has(n) && !isInfraSecret(n));
    if (secrets.length) usesAnySecret = true;
    if (credential && rules.storedAsWritten) {
      const key = JSON.stringify(exprPath);
      const entry = strings.get(key) ?? { usesSecret: false, others: [] };
      strings.set(key, entry);
      if (secrets.length) entry.usesSecret = true;
      for (const root of expr.roots) {
        if (root !== 'env') entry.others.push({ path: exprPath, ordinal, offset: Math.max(0, expr.source.indexOf(root)), message: `${where(rel, what)} uses a secret, so it is built from env alone (it is kept as written and completed only when sent): '${root}' cannot be read in it` });
      }
    }
    for (const name of secrets) {
      if (!credential) {
        problems.push({ path: exprPath, ordinal, offset: Math.max(0, expr.source.indexOf(name)), message: `env.${name} is a secret, and a secret can be used only where the Worker itself consumes it (an http step's url or headers, a notification's webhookUrl), never in ${where(rel, what)}, which is stored, shown or sent on; if ${name} is configuration, not a secret, list it in HITL_PUBLIC_VARS` });
      } else if (!verbatim(expr, name)) {
        problems.push({ path: exprPath, ordinal, offset: Math.max(0, expr.source.indexOf(name)), message: `env.${name} is a secret: use it as it is, \`\${env.${name}}\`, with no method, operator or function applied to it, so that it is recognized and redacted wherever an endpoint echoes it` });
      }
    }
  });
  for (const { usesSecret, others } of strings.values()) if (usesSecret) problems.push(...others);
  if (usesAnySecret && rules.destination) problems.push(...fixedDestination(template, base, what, rules.destination));
  return problems;
}

/**
 * Problems when the destination field lets anything but the file decide the scheme and host:
 * everything up to the first `/` after `scheme://` (or after a leading env value, taken to be an
 * origin such as `${env.API_BASE}`) must be literal text or env.
 */
function fixedDestination(template: Template, base: Path, what: string, destination: readonly string[]): SecretProblem[] {
  const field = templateAt(template, destination);
  if (!field || field.kind === 'const') return [];
  const parts = field.kind === 'interp' ? field.parts : field.kind === 'expr' ? [field.expr] : [];
  let prefix = '';
  let ordinal = 0;
  for (const part of parts) {
    if (ORIGIN_FIXED.test(prefix)) return [];
    if (typeof part === 'string') { prefix += part; continue; }
    if ([...part.roots].some((r) => r !== 'env')) {
      const root = [...part.roots].find((r) => r !== 'env')!;
      return [{ path: [...base, ...destination], ordinal, offset: Math.max(0, part.source.indexOf(root)), message: `${where([...destination], what)} decides where this step's secrets are sent, so its scheme and host come from the file (text or env), not from '${root}': write the origin out, e.g. "https://api.example.com/orders/\${${part.source}}"` }];
    }
    prefix += '\u0000';
    ordinal++;
  }
  return [];
}

// `https://host/` written out, or an env value (a stand-in character) followed by `/`.
const ORIGIN_FIXED = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/\u0000]+\/|\u0000\/)/i;
