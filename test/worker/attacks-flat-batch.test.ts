import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import { auth, dbWithWrites } from './helpers';
import { flatRowJson, ROW_BYTES } from '../../src/executions/flat-runs';
import { stepKinds } from '../../src/kinds';

// Runs that never suspend live nowhere but the D1 index. Their rows share one D1 batch per
// 100 ms / 50 rows: one failed batch must not cost every run that happened to share it, and the
// isolate that ran a run must find it at once.

/** A one-step flat ensemble of its own: run it, and read the index, with any env and context. */
function flat(prefix: string) {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const registry = new EnsembleRegistry([{ file: `ensembles/${name}.yaml`, name, hash: 'h', source: 'agents:\n  - name: a\n    operation: code\n    config: { script: ok }\n' }], { ok: { default: () => ({ fine: true }) } }, stepKinds);
  const app = createApp(() => registry);
  return {
    name,
    run: (testEnv = env, ctx?: ExecutionContext) => Promise.resolve(app.fetch(new Request(`http://worker.test/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), testEnv, ctx)),
    read: (path: string, testEnv = env) => Promise.resolve(app.fetch(new Request(`http://worker.test${path}`, { headers: auth }), testEnv)),
  };
}
const idOf = async (res: Response) => ((await res.json()) as { executionId: string }).executionId;

describe('batched index rows of flat runs', () => {
  it('one transient D1 failure does not lose the rows of every run in the batch', async () => {
    const { run, read } = flat('r13-flat');
    let failures = 1;
    let failedRows = 0;
    // The real database, whose next batch fails once (D1 answers "Network connection lost" now and then).
    const DB = dbWithWrites(async (real, statements) => {
      if (failures-- > 0) {
        failedRows = (JSON.parse(String((statements[0] as unknown as { params: unknown[] }).params[0])) as unknown[]).length;
        throw new Error('D1_ERROR: Network connection lost.');
      }
      return real.batch(statements);
    });
    const testEnv = { ...env, DB };
    // With an execution context, as deployed: rows wait after the answers, and share a batch.
    const ctx = createExecutionContext();
    const one = async () => {
      const res = await run(testEnv, ctx);
      expect(res.status).toBe(200);
      return idOf(res);
    };
    // Three concurrent runs of one isolate: their rows share a batch, the one that fails.
    const ids = await Promise.all([one(), one(), one()]);
    await waitOnExecutionContext(ctx);
    expect(failedRows).toBe(3);
    const found = [];
    for (const id of ids) if ((await read(`/executions/${id}`, testEnv)).status === 200) found.push(id);
    // Before batching, the failure cost the one run it hit; every run is the only record of itself.
    expect(found).toEqual(ids);
  });

  it('the isolate that ran a flat run lists it and finds it at once: a read writes the waiting rows first', async () => {
    const { name, run, read } = flat('r13-ryw');
    // With an execution context, as deployed: the answer leaves before the row is written.
    const ctx = createExecutionContext();
    const ran = await run(env, ctx);
    expect(ran.status).toBe(200);
    const executionId = await idOf(ran);
    const one = await read(`/executions/${executionId}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ executionId, status: 'completed', output: { a: { fine: true } } });
    const second = await idOf(await run(env, ctx));
    const listed = (await (await read(`/executions?ensemble=${name}`)).json()) as { executions: { executionId: string }[] };
    expect(listed.executions.map((e) => e.executionId).sort()).toEqual([second, executionId].sort());
    await waitOnExecutionContext(ctx);
  });

  it('two reads while D1 holds every write of the run both find it once D1 answers', async () => {
    const { run, read } = flat('r13-inflight');
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    // The real database, whose writes wait until released; reads go through at once.
    const testEnv = { ...env, DB: dbWithWrites(async (real, statements) => { await held; return real.batch(statements); }) };
    const ctx = createExecutionContext();
    const executionId = await idOf(await run(testEnv, ctx));
    const first = read(`/executions/${executionId}`, testEnv); // writes its copy of the waiting row: held
    await new Promise((r) => setTimeout(r, 20));
    const second = read(`/executions/${executionId}`, testEnv); // the row is still not in D1: held too
    await new Promise((r) => setTimeout(r, 20));
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    await waitOnExecutionContext(ctx);
  });

  it('a D1 write that never answers delays a read in that isolate by a second at most, never forever', async () => {
    const { name, run, read } = flat('r13-hang');
    // The real database, whose writes never come back; reads go through.
    const testEnv = { ...env, DB: dbWithWrites(() => new Promise(() => {})) };
    expect((await run(testEnv, createExecutionContext())).status).toBe(200);
    const gaveUp = Symbol('no answer in 5 s');
    const status = () => Promise.race([
      read(`/executions?ensemble=${name}`, testEnv).then((r) => r.status),
      new Promise((r) => setTimeout(() => r(gaveUp), 5000)),
    ]);
    expect(await status()).toBe(200);
    expect(await status()).toBe(200); // and the next one: the stuck batch does not hold every read
  });

  // The rows of a batch travel as one JSON parameter that SQLite unpacks: every string a run can
  // produce must come back from GET /executions/:id exactly as the run answered it.
  it('a flat run\'s summary comes back exactly, whatever characters it holds', async () => {
    const name = `r13-chars-${crypto.randomUUID().slice(0, 8)}`;
    const awkward = 'quote " back \\ slash\\" line\u2028sep nul \u0000 tab\t emoji 😀 lone \ud800 high é ü 中 end';
    const registry = new EnsembleRegistry([{ file: `ensembles/${name}.yaml`, name, hash: 'h', source: 'agents:\n  - name: a\n    operation: code\n    config: { script: odd }\n' }], { odd: { default: () => ({ text: awkward, [awkward]: [awkward, 1.5, -0, 1e21, null] }) } }, stepKinds);
    const app = createApp(() => registry);
    const ran = await app.fetch(new Request(`http://worker.test/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ note: awkward }) }), env);
    expect(ran.status).toBe(200);
    const answered = (await ran.json()) as { executionId: string; output: unknown; steps: unknown[] };
    await new Promise((r) => setTimeout(r, 200));
    const stored = await app.fetch(new Request(`http://worker.test/executions/${answered.executionId}`, { headers: auth }), env);
    expect(stored.status).toBe(200);
    const kept = (await stored.json()) as { output: unknown; steps: unknown[]; input: unknown };
    expect(kept.output).toEqual(answered.output);
    expect(kept.steps).toEqual(answered.steps);
    expect(kept.input).toEqual({ note: awkward });
    expect((kept.output as { a: { text: string } }).a.text).toBe(awkward);
  });

  // Found in review: rows travel as JSON inside one JSON string, so each `"` and `\` of a summary
  // is escaped twice, and the shortened summary still kept every error message (twice). A step
  // throwing 300,000 quotes made a 2.4 MB row: over D1's 2,000,000 bytes, and the run's only record
  // was lost. A row is now bounded as it is sent.
  it('a failed run whose error message is quote-heavy keeps its index row, with its outcome', async () => {
    const name = `r13-esc-${crypto.randomUUID().slice(0, 8)}`;
    const registry = new EnsembleRegistry(
      [{ file: `ensembles/${name}.yaml`, name, hash: 'h', source: 'agents:\n  - name: a\n    operation: code\n    config: { script: boom }\n' }],
      { boom: { default: () => { throw new Error('"'.repeat(300_000)); } } }, stepKinds,
    );
    const app = createApp(() => registry);
    const ran = await app.fetch(new Request(`http://worker.test/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), env);
    expect(ran.status).toBe(422);
    const { executionId } = (await ran.json()) as { executionId: string };
    await new Promise((r) => setTimeout(r, 300));
    const stored = await app.fetch(new Request(`http://worker.test/executions/${executionId}`, { headers: auth }), env);
    expect(stored.status).toBe(200);
    const kept = (await stored.json()) as { status: string; truncated?: boolean; steps: { name: string; status: string; error?: { code: string; message: string } }[]; error: { code: string; message: string } };
    expect(kept.status).toBe('failed');
    expect(kept.steps).toMatchObject([{ name: 'a', status: 'failed', error: { code: 'STEP_FAILED' } }]);
    expect(kept.steps[0]!.error!.message.length).toBeLessThanOrEqual(1_001);
    expect(kept.error.code).toBe('STEP_FAILED');
  }, 30_000);

  it('every row is within its bound as sent, whatever the run holds', () => {
    const base = { executionId: 'exe_00000000000000000000000000000001', ensemble: 'e', hash: 'h', origin: 'http://w', startedAt: new Date().toISOString(), cursor: 0 } as const;
    const quotes = '"\\'.repeat(200_000);
    const cases = [
      // One huge quote-heavy error, in the step and in the run.
      { ...base, input: {}, status: 'failed', steps: [{ name: 'a', status: 'failed', input: null, output: null, startedAt: base.startedAt, durationMs: 1, error: { code: 'X', message: quotes } }], error: { step: 'a', code: 'X', message: quotes } },
      // Thousands of failed steps, each with a long message.
      { ...base, input: {}, status: 'completed', steps: Array.from({ length: 3_000 }, (_, i) => ({ name: `s${i}`, status: 'failed', input: null, output: null, startedAt: base.startedAt, durationMs: 1, error: { code: 'X', message: '"'.repeat(900) } })) },
      // A large quote-heavy input just under the summary's own bound.
      { ...base, input: { q: '"'.repeat(500_000) }, status: 'completed', steps: [] },
    ];
    for (const state of cases) {
      const json = flatRowJson(state as never, Date.now());
      expect(new TextEncoder().encode(json).length).toBeLessThanOrEqual(ROW_BYTES);
      expect(JSON.parse(json)).toMatchObject({ id: base.executionId, status: state.status });
    }
  });
});

