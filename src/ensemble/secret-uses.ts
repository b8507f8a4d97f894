import { forEachExpression, type Path, type Template } from '../expression/template';
import type { CompiledExpression } from '../expression/compile';
import { isInfraSecret } from '../secrets';

/**
 * Where a step may use a secret: paths relative to its config (`*` for any key), e.g. an http
 * step's `url` and `headers.*`, a notification's `webhookUrl`. Each step kind declares its own.
 */
export type CredentialPaths = readonly (readonly string[])[];

export interface SecretRules {
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
  forEachExpression(template, base, (expr, exprPath, ordinal) => {
    const rel = exprPath.slice(base.length);
    const credential = isCredentialPath(rules.credentials, rel);
    const secrets = [...expr.envNames].filter((n) => !rules.publicEnv.has(n) && !isInfraSecret(n));
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
  return problems;
}
