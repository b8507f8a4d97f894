import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import { configureLog } from '../../src/log';
import { auth, dbWithWrites } from './helpers';
import { stepKinds } from '../../src/kinds';

// One structured line per run (its outcome and duration), and LOG_LEVEL to keep only what went
// wrong: every line costs its request, and far more under `wrangler dev`.

const name = `logs-${crypto.randomUUID().slice(0, 8)}`;
const registry = new EnsembleRegistry([{ file: `ensembles/${name}.yaml`, name, hash: 'h', source: 'agents:\n  - name: a\n    operation: code\n    config: { script: ok }\n' }], { ok: { default: () => ({ fine: true }) } }, stepKinds);
const app = createApp(() => registry);

/** Every line written while `fn` runs, by level. */
async function linesOf(fn: () => Promise<void>): Promise<{ level: string; event: string; [k: string]: unknown }[]> {
  const lines: string[] = [];
  const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => vi.spyOn(console, m).mockImplementation((...a: unknown[]) => { lines.push(a.join(' ')); }));
  try {
    await fn();
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return lines.map((l) => JSON.parse(l));
}

// A database whose writes always fail: the run is answered, its index row is lost with a warning.
const broken = dbWithWrites(async () => { throw new Error('D1_ERROR: no such table'); });

const run = async (vars: Record<string, unknown>) => {
  const res = await app.fetch(new Request(`http://worker.test/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), { ...env, DB: broken, ...vars });
  expect(res.status).toBe(200);
  const { executionId } = (await res.json()) as { executionId: string };
  await new Promise((r) => setTimeout(r, 300)); // the index batch is written 100 ms after the answer
  return executionId;
};

describe('log lines', () => {
  afterEach(() => configureLog(undefined));

  it('a run writes one line, with its outcome and duration; a lost index row is a warning', async () => {
    let id = '';
    const lines = await linesOf(async () => { id = await run({}); });
    expect(lines.filter((l) => l.executionId === id).map((l) => `${l.level} ${l.event}`)).toEqual(['info run-finished', 'warn index-write-failed']);
    expect(lines.find((l) => l.event === 'run-finished')).toMatchObject({ executionId: id, ensemble: name, status: 'completed', durationMs: expect.any(Number) });
  });

  it('LOG_LEVEL=warn (any case, spaces around) keeps the warning and drops the info line', async () => {
    let id = '';
    const lines = await linesOf(async () => { id = await run({ LOG_LEVEL: ' WARN ' }); });
    expect(lines.filter((l) => l.executionId === id).map((l) => `${l.level} ${l.event}`)).toEqual(['warn index-write-failed']);
  });

  it('LOG_LEVEL=error drops warnings too; an unknown level is the default (info)', async () => {
    let id = '';
    expect((await linesOf(async () => { id = await run({ LOG_LEVEL: 'error' }); })).filter((l) => l.executionId === id)).toEqual([]);
    const lines = await linesOf(async () => { id = await run({ LOG_LEVEL: 'constructor' }); });
    expect(lines.filter((l) => l.executionId === id).map((l) => l.event)).toEqual(['run-finished', 'index-write-failed']);
  });
});
