import { publicVars } from '../../generated/registry';
import type { Env } from '../env';
import { isInfraSecret, publicNames, secretValues } from '../secrets';

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

// Per env object, like the secrets: every step's scope reads it.
const publicOf = new WeakMap<object, Readonly<Record<string, string>>>();

/**
 * The part of env an ensemble may read (`${env.NAME}`): string vars and secrets, except this
 * Worker's own credentials (API key, signing secrets, provider keys: src/secrets.ts). Bindings
 * (Durable Objects, D1, KV) are not data and stay out.
 */
export function publicEnv(env: Env): Readonly<Record<string, string>> {
  let out = publicOf.get(env);
  if (!out) {
    const open: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (typeof v === 'string' && !isInfraSecret(k)) open[k] = v;
    out = Object.freeze(open);
    publicOf.set(env, out);
  }
  return out;
}
