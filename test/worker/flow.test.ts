import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { appWith, auth } from './helpers';
import { fireAlarm, hitlApp, hitsAt, inObject, received, stubOf, tokenOf } from './hitl-helpers';
import { ExecutionStore } from '../../src/hitl/store';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { LIMITS } from '../../src/limits';
import { scripts as projectScripts } from '../../generated/registry';
import conductorFlow from '../fixtures/conductor/flow.yaml?raw';

// Control flow: each node type, with approvals open at the same time. Items that open approvals
// for one person at once are announced one by one here (`groupNotifications: false`), to decide
// each through its own link; announced together, they are test/worker/batch.test.ts's. Runs inside workerd (real
// objects, alarms, the local receiver for webhooks). Steps that run in the execution's object
// (after an approval) use the project's own scripts/, which the object's registry holds.

const scripts = {
  echo: { default: (ctx: { input: unknown }) => ctx.input },
  double: { default: (ctx: { input: { n: number } }) => ({ n: ctx.input.n * 2 }) },
  boom: { default: () => { throw new Error('boom'); } },
  count: { default: (ctx: { input: { last: { n: number } | null } }) => ({ n: (ctx.input.last?.n ?? 0) + 1 }) },
};

const gate = (name: string, hook: string, prompt: string, approver: string, extra = '') => `      - name: ${name}
        agent: hitl
        inputs: { data: { x: 1 }, prompt: "${prompt}", approvers: [${approver}]${extra} }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }`;

/** Waits for `count` notifications at `hook` and gives each approver's token, by approver. */
async function linksAt(hook: string, count: number, executionId: string): Promise<{ prompt: string; step: string; token: string; approver: string }[]> {
  const hits = await hitsAt(hook, count, executionId);
  return hits.map((h: any) => ({ prompt: h.json.prompt, step: h.json.step, token: tokenOf(h.json.approvers[0].callbackUrl), approver: h.json.approvers[0].approver }));
}

describe('parallel', () => {
  it('waitFor all: branches run side by side; two approvals open at once; the run continues once both decided', async () => {
    const hook = `/par-${crypto.randomUUID()}`;
    const app = hitlApp('par-all', `agents:
  - name: reviews
    type: parallel
    steps:
${gate('legal', hook, 'Legal?', 'legal@example.com').replace(/^ {6}/gm, '      ')}
${gate('finance', hook, 'Finance?', 'finance@example.com')}
  - name: after
    operation: code
    config: { script: shout }
    input: { text: "legal \${legal.output.status}, finance \${finance.output.status}" }
output: { legal: "\${legal.output.approved}", finance: "\${finance.output.approved}", both: "\${reviews.output.length}", said: "\${after.output.text}" }
`, projectScripts);
    const start = await app.run('par-all');
    expect(start.status).toBe(202);
    expect(start.body.requests.map((r: any) => r.step)).toEqual(['reviews/legal', 'reviews/finance']);
    const id = start.body.executionId;
    const links = await linksAt(hook, 2, id);
    const legal = links.find((l) => l.approver === 'legal@example.com')!;
    const finance = links.find((l) => l.approver === 'finance@example.com')!;
    expect((await app.decide(legal.token, { approved: true })).status).toBe(200);
    const half = await app.until(id, 'suspended');
    expect(half.requests.map((r: any) => r.step)).toEqual(['reviews/finance']);
    expect(half.steps.find((s: any) => s.path === 'reviews/legal')).toMatchObject({ status: 'completed', output: { approved: true } });
    expect((await app.decide(finance.token, { approved: false, reason: 'over budget' })).status).toBe(200);
    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ legal: true, finance: false, both: 2, said: 'LEGAL APPROVED, FINANCE REJECTED' });
  }, 20_000);

  it('waitFor any: the first branch to finish wins; the other request closes (410) and the audit says so', async () => {
    const hook = `/any-${crypto.randomUUID()}`;
    const app = hitlApp('par-any', `agents:
  - name: race
    type: parallel
    waitFor: any
    steps:
${gate('fast', hook, 'Fast?', 'a@example.com')}
${gate('slow', hook, 'Slow?', 'b@example.com')}
output: { winner: "\${race.output.branch}", approved: "\${race.output.output.approved}" }
`);
    const start = await app.run('par-any');
    const id = start.body.executionId;
    const links = await linksAt(hook, 2, id);
    const slow = links.find((l) => l.approver === 'b@example.com')!;
    await app.decide(slow.token, { approved: true });
    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ winner: 'slow', approved: true });
    const fast = links.find((l) => l.approver === 'a@example.com')!;
    const late = await app.decide(fast.token, { approved: true });
    expect(late.status).toBe(410);
    expect(done.steps.find((s: any) => s.path === 'race/fast')).toMatchObject({ status: 'cancelled' });
    expect((await app.audit(id)).some((e) => e.type === 'closed' && e.detail.step === 'race/fast' && e.detail.by === 'flow')).toBe(true);
  }, 20_000);
});

describe('two decisions at the same instant', () => {
  it('on two branches, both count and the run continues once: the step after them runs once', async () => {
    const hook = `/twin-${crypto.randomUUID()}`;
    const after = `/twin-after-${crypto.randomUUID()}`;
    const app = hitlApp('twin', `agents:
  - name: reviews
    type: parallel
    steps:
${gate('legal', hook, 'Legal?', 'legal@example.com')}
${gate('finance', hook, 'Finance?', 'finance@example.com')}
  - name: notify-done
    operation: http
    config: { url: "\${env.RECEIVER}${after}", body: { legal: "\${legal.output.status}", finance: "\${finance.output.status}" } }
`);
    const start = await app.run('twin');
    const id = start.body.executionId;
    const links = await linksAt(hook, 2, id);
    const answers = await Promise.all(links.map((l) => app.decide(l.token, { approved: true })));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await app.until(id, 'completed');
    await fireAlarm(id);
    await new Promise((r) => setTimeout(r, 200));
    const hits = await received(after);
    expect(hits).toHaveLength(1);
    expect(hits[0].json).toEqual({ legal: 'approved', finance: 'approved' });
    expect((await app.audit(id)).filter((e) => e.type === 'completed')).toHaveLength(1);
  }, 20_000);
});

describe('a decision while the run goes on', () => {
  it('is not lost: a decision landing while another item\'s step runs is taken in by the same continuation', async () => {
    const hook = `/mid-${crypto.randomUUID()}`;
    const app = hitlApp('mid-flight', `agents:
  - name: each
    type: foreach
    items: [A, B]
    maxConcurrency: 2
    steps:
      - name: ok
        agent: hitl
        inputs: { data: { item: \${item} }, prompt: "Item \${item}?", approvers: [ap@example.com], groupNotifications: false }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
      - name: slow
        operation: http
        config: { url: "\${env.RECEIVER}/slow/400?item=\${item}" }
output: \${each.output}
`);
    const start = await app.run('mid-flight');
    const id = start.body.executionId;
    const links = await linksAt(hook, 2, id);
    const a = links.find((l) => l.prompt === 'Item A?')!;
    const b = links.find((l) => l.prompt === 'Item B?')!;
    await app.decide(a.token, { approved: true });
    // Item A's slow step is running now; item B is decided meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    await app.decide(b.token, { approved: true });
    const done = await app.until(id, 'completed');
    expect(done.output).toHaveLength(2);
    expect(done.steps.filter((s: any) => s.name === 'ok').map((s: any) => s.output.approved)).toEqual([true, true]);
  }, 20_000);
});

describe('branch and switch', () => {
  it('branch takes then or else by its condition; its output is the last output of the way taken', async () => {
    const app = appWith({ br: `agents:
  - name: route
    type: branch
    condition: \${input.n > 10}
    then:
      - name: big
        operation: code
        config: { script: double }
        input: { n: \${input.n} }
    else:
      - name: small
        operation: code
        config: { script: echo }
        input: { n: \${input.n} }
output: { route: \${route.output}, bigRan: \${big.executed}, smallRan: \${small.executed} }
` }, scripts);
    expect((await app.run('br', { n: 20 })).body.output).toEqual({ route: { n: 40 }, bigRan: true, smallRan: false });
    const small = await app.run('br', { n: 2 });
    expect(small.body.output).toEqual({ route: { n: 2 }, bigRan: false, smallRan: true });
    expect(small.body.steps.map((s: any) => s.path)).toEqual(['route/small']);
  });

  it('switch picks the case by the value, else default; an object value fails with SWITCH_VALUE', async () => {
    const app = appWith({ sw: `agents:
  - name: by-tier
    type: switch
    value: \${input.tier}
    cases:
      gold: { name: g, operation: code, config: { script: echo }, input: { t: gold } }
      "2": { name: two, operation: code, config: { script: echo }, input: { t: two } }
    default:
      - name: other
        operation: code
        config: { script: echo }
        input: { t: other }
output: \${by-tier.output.t}
` }, scripts);
    expect((await app.run('sw', { tier: 'gold' })).body.output).toBe('gold');
    expect((await app.run('sw', { tier: 2 })).body.output).toBe('two');
    expect((await app.run('sw', { tier: 'tin' })).body.output).toBe('other');
    const bad = await app.run('sw', { tier: { a: 1 } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toMatchObject({ step: 'by-tier', code: 'SWITCH_VALUE' });
  });
});

describe('foreach', () => {
  it('runs its body per item in item order; siblings of one iteration read each other; output is one result per item', async () => {
    const app = appWith({ fe: `agents:
  - name: each
    type: foreach
    items: \${input.list}
    maxConcurrency: 3
    steps:
      - name: twice
        operation: code
        config: { script: double }
        input: { n: \${item} }
      - name: plus-index
        operation: code
        config: { script: echo }
        input: { n: \${twice.output.n + index} }
output: \${each.output}
` }, scripts);
    const res = await app.run('fe', { list: [1, 2, 3, 4, 5] });
    expect(res.status).toBe(200);
    expect(res.body.output).toEqual([{ n: 2 }, { n: 5 }, { n: 8 }, { n: 11 }, { n: 14 }]);
    expect(res.body.steps.map((s: any) => s.path)).toContain('each[4]/plus-index');
  });

  it('breakWhen stops further items; items that are not a list, or too many, fail with a code', async () => {
    const app = appWith({ brk: `agents:
  - name: each
    type: foreach
    items: \${input.list}
    breakWhen: \${twice.output.n >= 6}
    step: { name: twice, operation: code, config: { script: double }, input: { n: \${item} } }
output: \${each.output}
` }, scripts);
    expect((await app.run('brk', { list: [1, 2, 3, 4, 5] })).body.output).toEqual([{ n: 2 }, { n: 4 }, { n: 6 }]);
    const notList = await app.run('brk', { list: { a: 1 } });
    expect(notList.body.error.details).toMatchObject({ step: 'each', code: 'ITEMS_NOT_A_LIST' });
    const many = await app.run('brk', { list: Array(LIMITS.foreachItems + 1).fill(1) });
    expect(many.body.error.details).toMatchObject({ step: 'each', code: 'TOO_MANY_ITEMS' });
  });

  it('a hitl step in a foreach opens one approval per item, each decided on its own; the output is in item order', async () => {
    const hook = `/inv-${crypto.randomUUID()}`;
    const app = hitlApp('per-invoice', `agents:
  - name: per-invoice
    type: foreach
    items: \${input.invoices}
    maxConcurrency: 3
    step:
      name: invoice-ok
      agent: hitl
      inputs: { data: \${item}, prompt: "Pay \${item.id}?", approvers: [ap@example.com], groupNotifications: false }
      config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
output: { decisions: \${per-invoice.output} }
`);
    const start = await app.run('per-invoice', { invoices: [{ id: 'A' }, { id: 'B' }, { id: 'C' }] });
    expect(start.status).toBe(202);
    expect(start.body.requests.map((r: any) => r.step)).toEqual(['per-invoice[0]/invoice-ok', 'per-invoice[1]/invoice-ok', 'per-invoice[2]/invoice-ok']);
    const id = start.body.executionId;
    const links = await linksAt(hook, 3, id);
    const byPrompt = Object.fromEntries(links.map((l) => [l.prompt, l.token]));
    // Decided in another order than the items'.
    await app.decide(byPrompt['Pay C?']!, { approved: true });
    await app.decide(byPrompt['Pay A?']!, { approved: false, reason: 'duplicate' });
    await app.decide(byPrompt['Pay B?']!, { approved: true });
    const done = await app.until(id, 'completed');
    expect(done.output.decisions.map((d: any) => d.approved)).toEqual([false, true, true]);
    const audit = await app.audit(id);
    expect(audit.filter((e) => e.type === 'suspended').map((e) => e.detail.step)).toEqual(['per-invoice[0]/invoice-ok', 'per-invoice[1]/invoice-ok', 'per-invoice[2]/invoice-ok']);
  }, 20_000);
});

describe('while, try and map-reduce', () => {
  it('while runs its body while the condition holds (a body step reads its previous iteration); past maxIterations: WHILE_LIMIT', async () => {
    const app = appWith({ wh: `agents:
  - name: loop
    type: while
    condition: \${!tick.executed || tick.output.n < input.until}
    maxIterations: 10
    steps:
      - name: tick
        operation: code
        config: { script: count }
        input: { last: \${tick.executed ? tick.output : null} }
output: \${loop.output}
` }, scripts);
    expect((await app.run('wh', { until: 4 })).body.output).toEqual({ n: 4 });
    const tooLong = await app.run('wh', { until: 50 });
    expect(tooLong.body.error.details).toMatchObject({ step: 'loop', code: 'WHILE_LIMIT' });
  });

  it('try runs catch with the error when a step fails, then finally; the run completes', async () => {
    const app = appWith({ tr: `agents:
  - name: safe
    type: try
    steps:
      - name: risky
        operation: code
        config: { script: boom }
    catch:
      - name: recover
        operation: code
        config: { script: echo }
        input: { code: \${error.code}, step: \${error.step} }
    finally:
      - name: cleanup
        operation: code
        config: { script: echo }
        input: { done: true }
output: { safe: \${safe.output}, cleaned: \${cleanup.output.done} }
` }, scripts);
    const res = await app.run('tr');
    expect(res.status).toBe(200);
    expect(res.body.output).toEqual({ safe: { code: 'STEP_FAILED', step: 'safe/risky' }, cleaned: true });
  });

  it('try catches an approval that timed out with onTimeout: fail', async () => {
    const app = hitlApp('try-timeout', `agents:
  - name: guarded
    type: try
    steps:
      - name: approve
        agent: hitl
        inputs: { data: 1, prompt: Quick?, approvers: [a@example.com], timeout: 1, onTimeout: fail }
    catch:
      - name: fallback
        operation: code
        config: { script: shout }
        input: { text: \${error.code} }
output: \${guarded.output}
`, projectScripts);
    const start = await app.run('try-timeout');
    const id = start.body.executionId;
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ text: 'HITL_TIMEOUT' });
  }, 20_000);

  it('map-reduce maps every item, then reduces their results', async () => {
    const app = appWith({ mr: `agents:
  - name: totals
    type: map-reduce
    items: [1, 2, 3]
    maxConcurrency: 2
    map: { name: m, operation: code, config: { script: double }, input: { n: \${item} } }
    reduce: { name: r, operation: code, config: { script: echo }, input: { sum: \${results[0].n + results[1].n + results[2].n} } }
output: \${totals.output.sum}
` }, scripts);
    expect((await app.run('mr')).body.output).toBe(12);
  });
});

describe("conductor's dialect", () => {
  it('`name:`, `agents:` as definitions and `flow:` as what runs: a definition runs once per use, named by id', async () => {
    const app = appWith({ 'conductor-flow': conductorFlow }, projectScripts);
    const res = await app.run('conductor-flow', { who: 'Ada' });
    expect(res.status).toBe(200);
    expect(res.body.output).toEqual({ first: 'Hello, Ada.', both: [{ text: 'HELLO, ADA.' }, { message: 'Hello, Ada!' }] });
    expect(res.body.steps.map((s: any) => s.path)).toEqual(['greeter', 'both/loud', 'both/again']);
  });
});

describe('load-time checks of control nodes', () => {
  const problems = (source: string) => {
    const r = loadEnsemble({ file: 'ensembles/f.yaml', source }, { kinds: stepKinds, scripts: new Set(['echo']) });
    return r.ok ? [] : r.problems.map(formatProblem);
  };

  it('a misspelt type or key is one problem with the word meant; a node without its steps says what it needs', () => {
    expect(problems(`agents:\n  - type: paralel\n    steps: [{ name: a, operation: code, config: { script: echo } }]\n`)).toEqual([
      "ensembles/f.yaml:2:11: unknown node type 'paralel' — did you mean 'parallel'?",
    ]);
    expect(problems(`agents:\n  - type: foreach\n    items: [1]\n    maxConcurency: 2\n    step: { name: a, operation: code, config: { script: echo } }\n`)).toEqual([
      "ensembles/f.yaml:4:5: unknown key 'maxConcurency' for a foreach node — did you mean 'maxConcurrency'?",
    ]);
    expect(problems(`agents:\n  - type: while\n    condition: true\n`)).toEqual([expect.stringMatching(/a while node needs `steps`/)]);
  });

  it('a name inside a loop is not readable outside it; branches of a parallel cannot read each other', () => {
    const p = problems(`agents:
  - name: each
    type: foreach
    items: [1]
    step: { name: inner, operation: code, config: { script: echo } }
  - name: after
    operation: code
    config: { script: echo }
    input: { x: \${inner.output} }
  - type: parallel
    steps:
      - { name: left, operation: code, config: { script: echo } }
      - { name: right, operation: code, config: { script: echo }, input: { l: \${left.output} } }
`);
    expect(p).toEqual([
      expect.stringMatching(/9:\d+: step 'inner' is inside foreach 'each': outside it, read the loop's output \(`\$\{each.output\}`\)/),
      expect.stringMatching(/13:\d+: step 'left' runs at the same time as 'right'/),
    ]);
  });

  it('nesting over the limit, and a maxConcurrency over the cap, are load problems', () => {
    let body = '{ name: leaf, operation: code, config: { script: echo } }';
    for (let i = 0; i <= LIMITS.nestingDepth; i++) body = `{ type: sequence, steps: [${body}] }`;
    expect(problems(`agents:\n  - ${body}\n`).some((p) => /nested more than 16 deep/.test(p))).toBe(true);
    expect(problems(`agents:\n  - type: foreach\n    items: [1]\n    maxConcurrency: 500\n    step: { name: a, operation: code, config: { script: echo } }\n`)).toEqual([
      expect.stringMatching(/maxConcurrency is at most 100/),
    ]);
  });
});

describe('the API with several open requests', () => {
  it('GET /executions/:id lists each open request with its path; cancel closes all of them', async () => {
    const hook = `/api-${crypto.randomUUID()}`;
    const app = hitlApp('multi', `agents:
  - name: reviews
    type: parallel
    steps:
${gate('legal', hook, 'Legal?', 'legal@example.com')}
${gate('finance', hook, 'Finance?', 'finance@example.com')}
`);
    const start = await app.run('multi');
    const id = start.body.executionId;
    const links = await linksAt(hook, 2, id);
    const view = (await app.execution(id)).body;
    expect(view.requests.map((r: any) => [r.step, r.waitingOn])).toEqual([['reviews/legal', ['legal@example.com']], ['reviews/finance', ['finance@example.com']]]);
    expect(view.pending.step).toBe('reviews/legal');
    const byApprover = await (await app.request(`/executions?approver=finance@example.com&status=suspended`, { headers: auth })).json() as any;
    expect(byApprover.executions.map((e: any) => e.executionId)).toContain(id);
    expect((await app.request(`/executions/${id}/cancel`, { method: 'POST', headers: auth, body: '{}' })).status).toBe(200);
    for (const l of links) expect((await app.decide(l.token, { approved: true })).status).toBe(410);
    const after = (await app.execution(id)).body;
    expect(after.steps.map((s: any) => s.status)).toEqual(['cancelled', 'cancelled']);
    expect(await received(hook)).toHaveLength(2);
    void env;
  }, 20_000);
});

describe('a wait saved before its request opened', () => {
  it('(the instance died between a checkpoint and opening the request) is opened by the alarm, once; one opened before is not opened again', async () => {
    const hook = `/reopen-${crypto.randomUUID()}`;
    const app = hitlApp('reopen', `agents:
  - name: p
    type: parallel
    steps:
${gate('first', hook, 'First?', 'a@example.com')}
${gate('second', hook, 'Second?', 'b@example.com')}
output: { first: "\${first.output.approved}", second: "\${second.output.approved}" }
`);
    const start = await app.run('reopen');
    const id = start.body.executionId;
    await linksAt(hook, 2, id);
    // Back to the moment after a checkpoint saved both waits (the first already had its request,
    // as a state saved by an earlier release keeps it) and before the second's request was opened.
    await inObject(stubOf(id), async (_instance, ctx) => {
      const sql = ctx.storage.sql;
      const store = new ExecutionStore(sql);
      const specs = new Map(sql.exec<{ id: number; step: string; spec: string }>('SELECT id, step, spec FROM request').toArray().map((r) => [r.step, r]));
      const second = specs.get('p/second')!;
      for (const table of ['token', 'outbox', 'audit', 'decision']) sql.exec(`DELETE FROM ${table} WHERE request_id = ?`, second.id);
      sql.exec('DELETE FROM request WHERE id = ?', second.id);
      const state = store.run()!.state;
      const waits = ['p/first', 'p/second'].map((step) => ({ step, request: JSON.parse(specs.get(step)!.spec) }));
      store.saveState({ ...state, status: 'running', suspensions: waits }, Date.now());
    });
    await fireAlarm(id);
    const view = await app.until(id, 'suspended');
    expect(view.requests.map((r: any) => r.step)).toEqual(['p/first', 'p/second']);
    // The second is notified again (new links); the first is not.
    const hits = await hitsAt(hook, 3, id);
    expect(hits[2].json.step).toBe('p/second');
    await fireAlarm(id);
    expect((await app.execution(id)).body.requests).toHaveLength(2);
    const first = tokenOf(hits[0].json.step === 'p/first' ? hits[0].json.approvers[0].callbackUrl : hits[1].json.approvers[0].callbackUrl);
    expect((await app.decide(first, { approved: true })).status).toBe(200);
    expect((await app.decide(tokenOf(hits[2].json.approvers[0].callbackUrl), { approved: false })).status).toBe(200);
    expect((await app.until(id, 'completed')).output).toEqual({ first: true, second: false });
  }, 20_000);
});
