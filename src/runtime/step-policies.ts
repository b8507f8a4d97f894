import type { Env } from '../env';
import { StepError } from '../errors';
import { log } from '../log';
import { redact } from '../secrets';
import { canonicalJson } from './canonical-json';

// What a step may ask around its run, written as conductor writes it: a time limit per attempt
// (`timeout`, with `onTimeout`), and a cache of its output in KV (`cache: { ttl, key, bypass }`).

/** `run()` within `ms`, else STEP_TIMEOUT. The operation itself cannot be stopped: its result is dropped. */
export async function withinTime<T>(ms: number | undefined, step: string, run: () => Promise<T>): Promise<T> {
  if (ms === undefined) return run();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepError('STEP_TIMEOUT', `step '${step}' took longer than ${ms} ms (its timeout)`)), ms);
  });
  try {
    return await Promise.race([run(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The KV key of a step's cached output: the ensemble, the step, and what identifies a result
 * (its `key`, else its rendered input and config), hashed. Secret values are taken out before
 * hashing: a key never carries one in any form.
 */
export async function cacheKeyOf(ensemble: string, step: string, identity: unknown, secrets: readonly string[]): Promise<string> {
  const text = canonicalJson([ensemble, step, redact(identity, secrets)]);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return `cache:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The cache's own namespace: no operation can reach it (storage and data refuse its name). */
export const CACHE_BINDING = 'STEP_CACHE';

const kvOf = (env: Env): KVNamespace | undefined => {
  const kv = env[CACHE_BINDING] as KVNamespace | undefined;
  return kv && typeof kv.get === 'function' ? kv : undefined;
};

/** The cached output, or undefined (a miss, or KV unavailable: the step then runs). */
export async function readCache(env: Env, key: string): Promise<{ output: unknown } | undefined> {
  const kv = kvOf(env);
  if (!kv) return undefined;
  try {
    const text = await kv.get(key, 'text');
    return text === null ? undefined : { output: JSON.parse(text) as unknown };
  } catch (e) {
    log('cache-read-failed', { key, error: e instanceof Error ? e.message : String(e) }, 'warn');
    return undefined;
  }
}

export async function writeCache(env: Env, key: string, output: unknown, ttl: number): Promise<void> {
  const kv = kvOf(env);
  if (!kv) {
    log('cache-unavailable', { key, reason: `no KV binding named ${CACHE_BINDING}` }, 'warn');
    return;
  }
  try {
    await kv.put(key, JSON.stringify(output ?? null), { expirationTtl: ttl });
  } catch (e) {
    log('cache-write-failed', { key, error: e instanceof Error ? e.message : String(e) }, 'warn');
  }
}
