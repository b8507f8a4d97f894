import { z } from 'zod';
import type { Env } from '../env';
import { StepError } from '../errors';
import { CACHE_BINDING } from '../runtime/step-policies';
import { defineOperation } from './operation';
import { didYouMean } from '../ensemble/suggest';
import { plainIssue, valueAt } from '../ensemble/issue-words';

/** D1 binds numbers, strings, null and bytes; anything else (objects, arrays) is stored as JSON text. */
function sqlParam(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === null || typeof value === 'number' || typeof value === 'string' || value instanceof ArrayBuffer) return value;
  return JSON.stringify(value);
}

function binding<T>(env: Env, name: string, kind: string, check: (b: unknown) => boolean): T {
  if (name === CACHE_BINDING) throw new StepError('BINDING_RESERVED', `data: '${name}' holds the steps' cache, which no step reads or writes`);
  const b = env[name];
  if (!b || !check(b)) throw new StepError('BINDING_MISSING', `data: there is no ${kind} binding named '${name}' (see wrangler.toml)`);
  return b as T;
}

const isD1 = (b: unknown) => typeof (b as D1Database).prepare === 'function';
const isKv = (b: unknown) => typeof (b as KVNamespace).list === 'function' && typeof (b as KVNamespace).put === 'function';

const D1Config = z.strictObject({
  backend: z.literal('d1').meta({ description: 'd1 (the default) or kv' }),
  binding: z.string().default('DB').describe('the D1 binding in wrangler.toml'),
  operation: z.enum(['execute', 'query', 'first']).default('query').describe('query: { rows, count }; first: the first row or null; execute: { success, changes, lastRowId }'),
  sql: z.string().min(1).meta({ description: 'one SQL statement with ? placeholders', examples: ['SELECT * FROM orders WHERE id = ?'] }),
  params: z.array(z.unknown()).default([]).meta({ description: 'values bound to the ? placeholders, in order', examples: [['${input.orderId}']] }),
});

const KvConfig = z.strictObject({
  backend: z.literal('kv'),
  binding: z.string().default('KV').describe('the KV binding in wrangler.toml'),
  operation: z.enum(['get', 'put', 'delete', 'list']),
  key: z.string().optional().describe('get, put, delete: the key'),
  value: z.unknown().optional().describe('put: stored as text, or as JSON when not a string'),
  ttl: z.number().int().min(60).optional().describe('put: seconds until the key expires'),
  prefix: z.string().optional().describe('list: only keys starting with this'),
  limit: z.number().int().min(1).max(1000).optional().describe('list: at most this many keys'),
  type: z.enum(['json', 'text']).optional().describe('get: parse as JSON (default: JSON when it parses)'),
});

async function runD1(env: Env, c: z.infer<typeof D1Config>): Promise<unknown> {
  const db = binding<D1Database>(env, c.binding, 'D1', isD1);
  const statement = db.prepare(c.sql).bind(...c.params.map(sqlParam));
  try {
    if (c.operation === 'first') return (await statement.first()) ?? null;
    const result = await statement.all();
    if (c.operation === 'query') return { rows: result.results, count: result.results.length };
    return { success: result.success, changes: result.meta.changes ?? 0, lastRowId: result.meta.last_row_id ?? null };
  } catch (e) {
    throw new StepError('SQL_ERROR', `data (d1): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

async function runKv(env: Env, c: z.infer<typeof KvConfig>): Promise<unknown> {
  const kv = binding<KVNamespace>(env, c.binding, 'KV', isKv);
  const key = () => {
    if (!c.key) throw new StepError('INVALID_CONFIG', `data (kv): operation '${c.operation}' needs a key`);
    return c.key;
  };
  switch (c.operation) {
    case 'get': {
      const text = await kv.get(key(), 'text');
      if (text === null || c.type === 'text') return text;
      try {
        return JSON.parse(text);
      } catch (e) {
        if (c.type === 'json') throw new StepError('KV_NOT_JSON', `data (kv): '${c.key}' is not JSON`, { cause: e });
        return text;
      }
    }
    case 'put':
      await kv.put(key(), typeof c.value === 'string' ? c.value : JSON.stringify(c.value ?? null), c.ttl ? { expirationTtl: c.ttl } : undefined);
      return { ok: true, key: c.key };
    case 'delete':
      await kv.delete(key());
      return { ok: true, key: c.key };
    case 'list': {
      const list = await kv.list({ prefix: c.prefix, limit: c.limit });
      return { keys: list.keys.map((k) => k.name), complete: list.list_complete };
    }
  }
}

/**
 * Conductor's spelling of a D1 step (`database: d1`, `query: <sql>`) as ours (`backend: d1`,
 * `sql`); another database is a problem of its own.
 */
function conductorSpelling(config: Record<string, unknown>): { config: Record<string, unknown>; problems: { path: string[]; message: string; atKey?: boolean }[] } {
  const problems: { path: string[]; message: string; atKey?: boolean }[] = [];
  const out = { ...config };
  if ('database' in out) {
    if (out.database !== 'd1') problems.push({ path: ['database'], message: `database '${String(out.database)}' is not available here: the data operation reads D1 (\`database: d1\`) and KV (\`backend: kv\`)` });
    else if (out.backend !== undefined && out.backend !== 'd1') problems.push({ path: ['database'], atKey: true, message: '`database: d1` and `backend` disagree: keep one' });
    out.backend = 'd1';
    delete out.database;
  }
  if (typeof out.query === 'string' && out.backend !== 'kv') {
    if (out.sql !== undefined) problems.push({ path: ['query'], atKey: true, message: '`query` and `sql` both give the SQL: keep one' });
    out.sql = out.query;
    delete out.query;
  }
  return { config: out, problems };
}

/**
 * `operation: data`: D1 (`backend: d1`, `binding`, `operation: execute | query | first`, `sql`,
 * `params`) or KV (`backend: kv`, `operation: get | put | delete | list`).
 */
export const data = defineOperation({
  config: z.looseObject({
    backend: z.enum(['d1', 'kv']).optional(),
    binding: z.string().optional(),
    operation: z.string().optional(),
  }),
  editorSchema: z.union([D1Config.extend({ backend: D1Config.shape.backend.optional() }), KvConfig]),
  check(written) {
    const { config, problems } = conductorSpelling(written);
    if (problems.length) return problems;
    const schema = config.backend === 'kv' ? KvConfig : D1Config;
    const result = schema.partial().safeParse({ backend: 'd1', ...config });
    if (result.success) return [];
    return result.error.issues.flatMap((i) => i.code === 'unrecognized_keys'
      ? i.keys.map((key) => ({ path: [key], atKey: true, message: `unknown config key '${key}' for a ${String(config.backend ?? 'd1')} data step${didYouMean(key, Object.keys(schema.shape))}` }))
      : [{ path: i.path as string[], message: plainIssue(i, valueAt(config, i.path)) }]);
  },
  async run({ config: written, env }) {
    const config = conductorSpelling(written).config;
    if (config.backend === 'kv') {
      const c = KvConfig.safeParse(config);
      if (!c.success) throw new StepError('INVALID_CONFIG', 'data (kv): config is invalid', { details: c.error.issues });
      return runKv(env, c.data);
    }
    const c = D1Config.safeParse({ ...config, backend: 'd1' });
    if (!c.success) throw new StepError('INVALID_CONFIG', 'data (d1): config is invalid', { details: c.error.issues });
    return runD1(env, c.data);
  },
});
