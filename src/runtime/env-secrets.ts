import { publicVars } from '../../generated/registry';
import type { Env } from '../env';
import { publicNames, secretValues } from '../secrets';

// What the build knows of this deployment's env (wrangler.toml [vars], from the generated
// registry): only the Worker's run time imports this, so tools (validate, schema) need no build.

// Per env object: an isolate's env does not change, and these are read on every step and audit.
const secretsOf = new WeakMap<object, string[]>();
const publicNamesOf = new WeakMap<object, ReadonlySet<string>>();

/** The names of this deployment's env that are configuration, not secrets (src/secrets.ts). */
export function publicEnvNames(env: Env): ReadonlySet<string> {
  let names = publicNamesOf.get(env);
  if (!names) {
    names = publicNames(publicVars, env.HITL_PUBLIC_VARS);
    publicNamesOf.set(env, names);
  }
  return names;
}

/** The secret values of this deployment's env, to redact from run data. */
export function runSecrets(env: Env): string[] {
  let values = secretsOf.get(env);
  if (!values) {
    values = secretValues(env, publicEnvNames(env));
    secretsOf.set(env, values);
  }
  return values;
}

