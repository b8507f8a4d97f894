import { describe, expect, it } from 'vitest';
import { advance } from '../../src/runtime/interpreter';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { LIMITS } from '../../src/limits';
import type { RunState } from '../../src/runtime/run-state';
import { appWith, auth, received } from './helpers';
import { hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';
import { env } from 'cloudflare:test';
import { stepKinds } from '../../src/kinds';

const scripts = { big: { default: () => ({ blob: 'x'.repeat(200_000) }) }, small: { default: () => ({ ok: true }) } };

describe('bounded state: every write fits, by construction', () => {
  it('a step after an approval answered 2.5 MB: the step fails OUTPUT_TOO_LARGE once, never repeated', async () => {
    const hook = `/big-${crypto.randomUUID()}`;
    const app = hitlApp('bigafter', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
  - name: fetch
    operation: http
    config: { url: "\${env.RECEIVER}/big/2500000?run=${hook}" }
`);
    const id = await suspend(app, 'bigafter');
    const [hit] = await hitsAt(hook, 1);
    await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true });
    const done = await app.until(id, 'failed');
    expect(done.error).toMatchObject({ step: 'fetch', code: 'OUTPUT_TOO_LARGE' });
    expect(done.steps[1]).toMatchObject({ status: 'failed', output: null });
    await new Promise((r) => setTimeout(r, 300));
    expect(await received(`/big/2500000?run=${hook}`)).toHaveLength(1);
    expect((await app.audit(id)).map((e) => e.type)).toContain('failed');
  });

  it('a run whose outputs add up past the state limit fails STATE_TOO_LARGE, with nothing dropped silently', async () => {
    const steps = Array.from({ length: 9 }, (_, i) => `  - name: s${i}\n    operation: code\n    config: { script: big }\n`).join('');
    const app = appWith({ many: `agents:\n${steps}` }, scripts);
    const res = await app.run('many');
    expect(res.status).toBe(422);
    expect(res.body.error.details).toMatchObject({ code: 'STATE_TOO_LARGE' });
    const failed = res.body.steps.find((s: any) => s.status === 'failed');
    expect(failed).toMatchObject({ output: null, input: null, error: { code: 'STATE_TOO_LARGE' } });
    expect(JSON.stringify(res.body).length).toBeLessThan(LIMITS.stateBytes + 10_000);
  });

  it('a step input over its limit fails before the step runs (INPUT_TOO_LARGE)', async () => {
    const app = appWith({ fat: `agents:\n  - name: s\n    operation: http\n    config: { url: "\${env.RECEIVER}/never-${crypto.randomUUID()}" }\n    input: { a: \${input.text}, b: \${input.text} }\n` });
    const res = await app.run('fat', { text: 'y'.repeat(150_000) });
    expect(res.body.error.details).toMatchObject({ code: 'INPUT_TOO_LARGE' });
  });

  it.each([[300 * 1024], [1_000_000]])('a run input of %i bytes is 413, never a storage error', async (size) => {
    const app = appWith({ echo: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\n` }, scripts);
    const res = await app.request('/ensembles/echo', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ s: 'z'.repeat(size) }) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a checkpoint that cannot be written fails the run; the finished step is not run again', async () => {
    const loaded = loadEnsemble({ file: 'ensembles/c.yaml', source: 'agents:\n  - name: a\n    operation: code\n    config: { script: small }\n  - name: b\n    operation: code\n    config: { script: small }\n' }, { kinds: stepKinds, scripts: new Set(['small']) });
    if (!loaded.ok) throw new Error('did not load');
    let runs = 0;
    const counted = { small: { default: () => { runs++; return { ok: true }; } } };
    const state: RunState = { executionId: 'exe_00000000000000000000000000000000', ensemble: 'c', hash: '', input: {}, startedAt: new Date().toISOString(), status: 'running', cursor: 0, steps: [] };
    const out = await advance(loaded.ensemble, state, { env, scripts: counted, kinds: stepKinds, checkpoint: async () => { throw new Error('SQLITE_TOOBIG'); } });
    expect(out).toMatchObject({ status: 'failed', error: { step: 'a', code: 'CHECKPOINT_FAILED' } });
    expect(runs).toBe(1);
  });
});

describe('isolation: one bad file is one invalid ensemble', () => {
  const bomb = ['a0: &a0 [x,x,x,x,x,x,x,x,x]', ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(',')}]`)].join('\n') + '\nagents:\n  - name: a\n    operation: code\n    config: { script: small }\n';
  const aliases = `base: &b x\nlist: [${Array(150).fill('*b').join(',')}]\nagents:\n  - name: a\n    operation: code\n    config: { script: small }\n`;
  const deepExpr = `agents:\n  - name: a\n    operation: code\n    config: { script: small }\n    input: { x: "\${${'('.repeat(2000)}1${')'.repeat(2000)}}" }\n`;
  const chain = `agents:\n  - name: a\n    operation: code\n    config: { script: small }\n    input: { x: "\${${Array(1500).fill('1').join('+')}}" }\n`;
  const deepYaml = `agents:\n  - name: a\n    operation: code\n    config: { script: small }\n    input: ${'['.repeat(6000)}${']'.repeat(6000)}\n`;
  const huge = `agents:\n  - name: a\n    operation: code\n    config: { script: small }\n    input: { x: "${'q'.repeat(LIMITS.ensembleFileBytes)}" }\n`;

  it('alias bombs, too many aliases, deep expressions and deep YAML are problems with a place, not crashes', () => {
    const problems = (source: string) => {
      const r = loadEnsemble({ file: 'ensembles/b.yaml', source }, { kinds: stepKinds, scripts: new Set(['small']) });
      return r.ok ? [] : r.problems.map(formatProblem);
    };
    expect(problems(bomb)).toEqual([expect.stringMatching(/^ensembles\/b\.yaml:1:1: too many YAML aliases: at most 100/)]);
    expect(problems(aliases)).toEqual([expect.stringMatching(/^ensembles\/b\.yaml:1:1: too many YAML aliases/)]);
    expect(problems(deepExpr)).toEqual([expect.stringMatching(/^ensembles\/b\.yaml:5:20: invalid expression: expression is nested too deeply/)]);
    expect(problems(chain)).toEqual([expect.stringMatching(/^ensembles\/b\.yaml:5:20: invalid expression: expression is nested too deeply \(more than 128 levels\)/)]);
    expect(problems(deepYaml)).toEqual([expect.stringMatching(/^ensembles\/b\.yaml:5:\d+: values are nested too deeply/)]);
    expect(problems(huge)).toEqual([expect.stringMatching(/^ensembles\/b\.yaml:1:1: the file is \d+ characters long \(limit 262144\)/)]);
  });

  it('with all of them in ensembles/, every route works and only they are invalid', async () => {
    const app = appWith({ bomb, aliases, deepExpr, chain, deepYaml, good: `agents:\n  - name: a\n    operation: code\n    config: { script: small }\n` }, scripts);
    const list = (await (await app.request('/ensembles', { headers: auth })).json()) as any;
    expect(list.ensembles.filter((e: any) => !e.valid).map((e: any) => e.name).sort()).toEqual(['aliases', 'bomb', 'chain', 'deepExpr', 'deepYaml']);
    expect((await app.run('good')).status).toBe(200);
    expect((await app.run('bomb')).status).toBe(422);
    expect((await app.request('/callback/exe_00000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
  });
});

describe('expression budgets', () => {
  const run = async (expr: string, input: unknown = {}) => {
    const app = appWith({ e: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\n    input: { v: "\${${expr}}" }\noutput: { v: \${s.input.v} }\n` }, scripts);
    return app.run('e', input);
  };

  it("a chain of growing replaceAll stops at the budget (EXPRESSION_LIMIT), it does not take the isolate's memory", async () => {
    const chain = Array(12).fill(".replaceAll('a','aaaa')").join('');
    const res = await run(`'aaaa'${chain}`);
    expect(res.status).toBe(422);
    expect(res.body.error.details).toMatchObject({ step: 's', code: 'EXPRESSION_LIMIT' });
  });

  it('a 12 KB input cannot make replaceAll answer megabytes', async () => {
    const res = await run('input.s.replaceAll(input.find, input.repl)', { s: 'a'.repeat(6000), find: 'a', repl: 'b'.repeat(6000) });
    expect(res.body.error.details.code).toBe('EXPRESSION_LIMIT');
  });

  it('replacement text is literal: $` cannot copy the text once per match', async () => {
    const res = await run("'abc'.replaceAll('b', '$`$&')");
    expect(res.body.output).toEqual({ v: 'a$`$&c' });
  });

  it('join with a huge separator and split into too many items are refused before they are built', async () => {
    expect((await run('input.a.join(input.sep)', { a: Array(2000).fill(1), sep: 'x'.repeat(1000) })).body.error.details.code).toBe('EXPRESSION_LIMIT');
    expect((await run("input.s.split('')", { s: 'c'.repeat(150_000) })).body.error.details.code).toBe('EXPRESSION_LIMIT');
    expect((await run("'a,b'.split(',').join('-')")).body.output).toEqual({ v: 'a-b' });
  });

  it('an expression longer than the limit is a load problem', () => {
    const r = loadEnsemble({ file: 'ensembles/l.yaml', source: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\n    input: { v: "\${'${'a'.repeat(5000)}'}" }\n` }, { kinds: stepKinds, scripts: new Set(['small']) });
    expect(!r.ok && r.problems[0]!.message).toMatch(/expression is 5002 characters long \(limit 4096\)/);
  });
});

describe('sizes are counted in UTF-8 bytes', () => {
  it('jsonBytes equals the encoded length for ASCII, accents, symbols, emoji and lone surrogates', async () => {
    const { jsonBytes, utf8Length } = await import('../../src/limits');
    for (const value of ['abc', '\x7f', '\x80', '\u07ff', '\u0800', 'é', '€', '😀', '\ud800', 'a\udc00b', { k: 'x'.repeat(1000) + 'ü😀€' }, [1, null, true]]) {
      expect(jsonBytes(value)).toBe(new TextEncoder().encode(JSON.stringify(value)).byteLength);
    }
    expect(utf8Length('\ud83d')).toBe(new TextEncoder().encode('\ud83d').byteLength);
  });
});

describe('the state size checked after each step', () => {
  it('is the stored JSON size, counted without stringifying the whole state each step', async () => {
    const { stateBytes } = await import('../../src/runtime/state-size');
    const { jsonBytes } = await import('../../src/limits');
    const state = { executionId: 'exe_1', ensemble: 'e', hash: 'h', input: { text: 'Zoë 😀 '.repeat(50) }, startedAt: '2026-11-22T00:00:00.000Z', origin: 'http://x', status: 'running' as const, cursor: 2, steps: [] };
    const steps = [1, 2, 3].map((i) => ({ name: `s${i}`, status: 'completed' as const, input: { i }, output: { msg: `€${i}` }, startedAt: state.startedAt, durationMs: i }));
    for (const n of [0, 1, 3]) {
      expect(stateBytes(state as never, steps.slice(0, n) as never)).toBe(jsonBytes({ ...state, steps: steps.slice(0, n) }));
    }
    const suspension = { step: 's3', request: { prompt: 'Ship? ✅', data: [1, 2] } };
    expect(stateBytes(state as never, steps as never, suspension)).toBe(jsonBytes({ ...state, steps, suspensions: [suspension] }));
    // Control nodes' records (changed in place as the run goes) and waits already open.
    const nodes: Record<string, any> = {
      each: { type: 'foreach', status: 'running', items: [{ id: 'ü' }, 2, 'three'], startedAt: state.startedAt },
      'loop/inner': { type: 'while', status: 'running', iteration: 2, iterationDone: true, last: { n: 2 }, startedAt: state.startedAt },
      pick: { type: 'branch', status: 'completed', taken: 'then', output: 'done', startedAt: state.startedAt },
    };
    const waiting = { ...state, nodes, suspensions: [suspension, { step: 'each[1]/ok', request: { prompt: '½?' } }] };
    expect(stateBytes(waiting as never, steps as never)).toBe(jsonBytes({ ...waiting, steps }));
    // A record is replaced, never changed in place.
    nodes.each = { ...nodes.each, status: 'completed', output: [1, 2, 3] };
    nodes['loop/inner'] = { ...nodes['loop/inner'], iteration: 3, last: { n: 3, more: 'x'.repeat(40) } };
    expect(stateBytes(waiting as never, steps as never, suspension)).toBe(jsonBytes({ ...waiting, steps, suspensions: [...waiting.suspensions, suspension] }));
    // The running total the interpreter keeps gives the same sizes.
    const { StateSize } = await import('../../src/runtime/state-size');
    const live = { ...waiting, steps: steps.slice(0, 2) };
    const size = new StateSize(live as never);
    expect(size.withStep(steps[2] as never, suspension)).toBe(jsonBytes({ ...live, steps, suspensions: [...waiting.suspensions, suspension] }));
    const pick = { type: 'branch', status: 'completed', taken: 'else', output: { long: 'y'.repeat(30) }, startedAt: state.startedAt };
    expect(size.withNode('pick', pick as never)).toBe(jsonBytes({ ...live, nodes: { ...nodes, pick } }));
    expect(size.withNode('new/one', pick as never)).toBe(jsonBytes({ ...live, nodes: { ...nodes, 'new/one': pick } }));
    expect(stateBytes({ ...state, nodes: {} } as never, [] as never)).toBe(jsonBytes({ ...state, nodes: {}, steps: [] }));
  });
});
