import type { Env } from '../env';
import { isInfraSecret } from '../secrets';

// Per env object: an isolate's env does not change, and every step's scope reads it.
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
