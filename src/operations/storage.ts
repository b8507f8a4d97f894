import { z } from 'zod';
import type { Env } from '../env';
import { StepError } from '../errors';
import { CACHE_BINDING } from '../runtime/step-policies';
import { depthOf, jsonBytes, LIMITS, utf8Length } from '../limits';
import { defineOperation, type ConfigProblem } from './operation';

const types = ['kv', 'r2', 'queue'] as const;
const actions = ['get', 'put', 'delete', 'list', 'send'] as const;
type Type = (typeof types)[number];
type Action = (typeof actions)[number];

const actionsOf: Record<Type, readonly Action[]> = { kv: ['get', 'put', 'delete', 'list'], r2: ['get', 'put', 'delete', 'list'], queue: ['send'] };
/** The keys each action needs, and the ones it may have, besides `type`, `action` and `binding`. */
const takes: Record<Action, { needs: readonly string[]; may: readonly string[] }> = {
  get: { needs: ['key'], may: ['default'] },
  put: { needs: ['key', 'value'], may: ['ttl', 'expirationTtl'] },
  delete: { needs: ['key'], may: [] },
  list: { needs: [], may: ['prefix', 'limit'] },
  send: { needs: ['queue', 'body'], may: ['delaySeconds'] },
};
const defaultBinding = { kv: 'KV', r2: 'BUCKET' } as const;
const bindingName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a binding name: letters, digits and _');

const Config = z.strictObject({
  type: z.enum(types).meta({ description: 'kv (Workers KV), r2 (an R2 bucket) or queue (a Queues producer)', examples: ['kv'] }),
  action: z.enum(actions).describe('kv and r2: get | put | delete | list; queue: send'),
  binding: bindingName.optional().describe('kv and r2: the binding in wrangler.toml (default KV for kv, BUCKET for r2)'),
  key: z.string().min(1).optional().meta({ description: 'get, put, delete: the key (KV: at most 512 bytes; R2: 1,024)', examples: ['user-${input.id}'] }),
  value: z.unknown().optional().describe('put: a string is stored as it is, anything else as JSON (at most 1 MiB)'),
  default: z.unknown().optional().describe('get: the output when the key is missing (default null)'),
  ttl: z.number().int().min(60).optional().describe('kv put: seconds until the key expires (at least 60)'),
  expirationTtl: z.number().int().min(60).optional().describe('kv put: conductor\'s name for ttl'),
  prefix: z.string().optional().describe('list: only keys starting with this'),
  limit: z.number().int().min(1).max(1000).optional().describe('list: at most this many keys (default and most: 1,000)'),
  queue: bindingName.optional().meta({ description: 'send: the queue producer binding in wrangler.toml', examples: ['QUEUE'] }),
  body: z.unknown().optional().describe('send: the message, sent as JSON (at most 128 KB)'),
  delaySeconds: z.number().int().min(0).max(LIMITS.queueDelaySeconds).optional().describe('send: deliver after this many seconds (at most 43,200: 12 hours)'),
});
type StorageConfig = z.infer<typeof Config>;

/** A problem with the config, and the code it fails the step with when it is found at run time. */
type Finding = ConfigProblem & { refusal: 'INVALID_CONFIG' | 'KEY_TOO_LARGE' | 'VALUE_TOO_LARGE' };

const storedText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value ?? null));

/**
 * What is wrong with a storage config: an action its type has not, a key the action needs and
 * lacks or does not take, a key or value over its limit. `config` holds the values known (all of
 * them at run time; the static ones at load time), `written` every key written.
 */
function findings(config: Record<string, unknown>, written: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  const invalid = (path: string[], message: string, atKey = false) => out.push({ path, message, atKey, refusal: 'INVALID_CONFIG' });
  const type = types.find((t) => t === config.type);
  const action = actions.find((a) => a === config.action);
  if (type && action && !actionsOf[type].includes(action)) {
    invalid(['action'], type === 'queue' ? `a queue takes action 'send' (get, put, delete and list are for kv and r2)` : `action 'send' is for type: queue (a ${type} step takes get, put, delete or list)`);
    return out;
  }
  if (action) {
    for (const key of takes[action].needs) if (!written.has(key)) invalid(['action'], `action '${action}' needs '${key}'`);
    const known = new Set(['type', 'action', 'binding', ...takes[action].needs, ...takes[action].may]);
    for (const key of written) if (!known.has(key) && key in Config.shape) invalid([key], `'${key}' does not apply to action '${action}'`, true);
  }
  if (type === 'queue' && written.has('binding')) invalid(['binding'], "a queue is named by 'queue:', not 'binding:'", true);
  if (type === 'r2') for (const key of ['ttl', 'expirationTtl']) if (written.has(key)) invalid([key], `R2 objects do not expire: '${key}' is for type: kv`, true);
  if (written.has('ttl') && written.has('expirationTtl')) invalid(['expirationTtl'], "'expirationTtl' is another name for 'ttl': write one of them", true);
  const keyLimit = type === 'r2' ? LIMITS.r2KeyBytes : LIMITS.kvKeyBytes;
  if (typeof config.key === 'string' && type !== 'queue' && utf8Length(config.key) > keyLimit) {
    out.push({ path: ['key'], refusal: 'KEY_TOO_LARGE', message: `the key is ${utf8Length(config.key)} bytes; a ${type ?? 'kv'} key is at most ${keyLimit} (LIMITS.${type === 'r2' ? 'r2KeyBytes' : 'kvKeyBytes'})` });
  }
  if ('value' in config && action === 'put') {
    const bytes = utf8Length(storedText(config.value));
    if (bytes > LIMITS.storageValueBytes) out.push({ path: ['value'], refusal: 'VALUE_TOO_LARGE', message: `the value is ${bytes} bytes as stored; at most ${LIMITS.storageValueBytes} (LIMITS.storageValueBytes)` });
  }
  if ('body' in config && action === 'send') {
    const bytes = jsonBytes(config.body);
    if (bytes > LIMITS.queueMessageBytes) out.push({ path: ['body'], refusal: 'VALUE_TOO_LARGE', message: `the message is ${bytes} bytes as JSON; a queue message is at most ${LIMITS.queueMessageBytes} (LIMITS.queueMessageBytes)` });
  }
  return out;
}

function binding<T>(env: Env, name: string, kind: string, is: (b: Record<string, unknown>) => boolean): T {
  if (name === CACHE_BINDING) throw new StepError('BINDING_RESERVED', `storage: '${name}' holds the steps' cache, which no step reads or writes`);
  const b = env[name];
  if (b === null || typeof b !== 'object' || !is(b as Record<string, unknown>)) throw new StepError('BINDING_MISSING', `storage: there is no ${kind} binding named '${name}' (see wrangler.toml)`);
  return b as T;
}
const isKv = (b: Record<string, unknown>) => typeof b.getWithMetadata === 'function' && typeof b.list === 'function';
const isR2 = (b: Record<string, unknown>) => typeof b.head === 'function' && typeof b.createMultipartUpload === 'function';
const isQueue = (b: Record<string, unknown>) => typeof b.send === 'function' && typeof b.sendBatch === 'function';

/** A call to the binding; its failure fails the step with `STORAGE_FAILED` (retried by the step's `retry`). */
async function attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof StepError) throw e;
    throw new StepError('STORAGE_FAILED', `storage (${what}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

const tooLarge = (key: string) => new StepError('VALUE_TOO_LARGE', `storage: the value of '${key}' is larger than ${LIMITS.stepOutputBytes} bytes, the most a step's output holds (LIMITS.stepOutputBytes)`);

/** A stream as text, refusing to read past what a step's output may hold. */
async function readCapped(stream: ReadableStream<Uint8Array>, key: string): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > LIMITS.stepOutputBytes) {
      await reader.cancel();
      throw tooLarge(key);
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** A stored text as a value: its JSON when it parses (nested no deeper than any value may be), else the text. */
function valueOf(text: string, key: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  if (depthOf(value, LIMITS.valueDepth) > LIMITS.valueDepth) throw new StepError('VALUE_TOO_DEEP', `storage: the value of '${key}' is nested more than ${LIMITS.valueDepth} levels deep`);
  return value;
}

async function runKv(env: Env, c: StorageConfig & { key: string }): Promise<unknown> {
  const kv = binding<KVNamespace>(env, c.binding ?? defaultBinding.kv, 'KV', isKv);
  switch (c.action) {
    case 'get': {
      const stream = await attempt('kv', () => kv.get(c.key, 'stream'));
      return stream === null ? (c.default ?? null) : valueOf(await readCapped(stream, c.key), c.key);
    }
    case 'put': {
      const ttl = c.ttl ?? c.expirationTtl;
      await attempt('kv', () => kv.put(c.key, storedText(c.value), ttl ? { expirationTtl: ttl } : undefined));
      return { ok: true, key: c.key };
    }
    case 'delete':
      await attempt('kv', () => kv.delete(c.key));
      return { ok: true, key: c.key };
    default: {
      const list = await attempt('kv', () => kv.list({ prefix: c.prefix, limit: c.limit }));
      return { keys: list.keys.map((k) => k.name), complete: list.list_complete };
    }
  }
}

async function runR2(env: Env, c: StorageConfig & { key: string }): Promise<unknown> {
  const bucket = binding<R2Bucket>(env, c.binding ?? defaultBinding.r2, 'R2', isR2);
  switch (c.action) {
    case 'get': {
      const object = await attempt('r2', () => bucket.get(c.key));
      if (object === null) return c.default ?? null;
      if (object.size > LIMITS.stepOutputBytes) {
        await object.body.cancel();
        throw tooLarge(c.key);
      }
      return valueOf(await attempt('r2', () => object.text()), c.key);
    }
    case 'put': {
      const contentType = typeof c.value === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
      await attempt('r2', () => bucket.put(c.key, storedText(c.value), { httpMetadata: { contentType } }));
      return { ok: true, key: c.key };
    }
    case 'delete':
      await attempt('r2', () => bucket.delete(c.key));
      return { ok: true, key: c.key };
    default: {
      const list = await attempt('r2', () => bucket.list({ prefix: c.prefix, limit: c.limit }));
      return { keys: list.objects.map((o) => o.key), complete: !list.truncated };
    }
  }
}

async function runQueue(env: Env, c: StorageConfig & { queue: string }): Promise<unknown> {
  const queue = binding<Queue>(env, c.queue, 'Queue', isQueue);
  await attempt('queue', () => queue.send(c.body ?? null, { contentType: 'json', delaySeconds: c.delaySeconds }));
  return { ok: true, queue: c.queue };
}

/**
 * `operation: storage`, as conductor writes it: Workers KV (`type: kv`), an R2 bucket (`type: r2`)
 * or a Queues producer (`type: queue`), by `action`.
 *
 * @example { type: kv, action: get, key: "user-${input.id}", default: {} }
 */
export const storage = defineOperation({
  config: Config,
  check(config, _ctx, step) {
    return findings(config, new Set([...Object.keys(config), ...step.dynamicConfig])).map(({ refusal: _, ...problem }) => problem);
  },
  async run({ config, env }) {
    const written = new Set(Object.keys(config).filter((k) => config[k as keyof StorageConfig] !== undefined));
    const found = findings(config, written);
    if (found.length) throw new StepError(found[0]!.refusal, `storage: ${found.map((f) => f.message).join('; ')}`);
    // findings() has made sure the action's keys are there.
    if (config.type === 'queue') return runQueue(env, config as StorageConfig & { queue: string });
    return (config.type === 'kv' ? runKv : runR2)(env, config as StorageConfig & { key: string });
  },
});
