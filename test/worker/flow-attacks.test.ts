import { describe, expect, it } from 'vitest';

// Attacks on the control flow (issue 23's adversarial review): paths, limits, costs, loops that
// stop early, the winner of a race, the state in parts, names that are object members. Each test
// was a reproduction of a defect; it now says what holds.

import { env } from 'cloudflare:test';
import { appWith } from './helpers';
import { hitlApp, hitsAt, inObject, received, stubOf, tokenOf } from './hitl-helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { stepKinds } from '../../src/kinds';
import { LIMITS } from '../../src/limits';
import { scripts as projectScripts } from '../../generated/registry';

const scripts = {
  echo: { default: (ctx: { input: unknown }) => ctx.input },
  boom: { default: () => { throw new Error('boom'); } },
};

describe('paths of unnamed control nodes', () => {
  it('try: an unnamed sequence in catch has a path of its own, so catch runs', async () => {
    const app = appWith({ t1: `agents:
  - name: t
    type: try
    steps:
      - type: sequence
        steps:
          - { name: bad, operation: code, config: { script: boom } }
    catch:
      - type: sequence
        steps:
          - { name: handled, operation: code, config: { script: echo }, input: { ok: true } }
` }, scripts);
    const res = await app.run('t1');
    expect(res.body.steps.map((s: any) => s.path)).toEqual(['t/sequence.1/bad', 't/catch.sequence.1/handled']);
    expect(res.status).toBe(200);
  });

  it('try: an unnamed parallel in finally has a path of its own, so finally runs', async () => {
    const app = appWith({ t2: `agents:
  - name: t
    type: try
    steps:
      - type: parallel
        steps:
          - { name: work, operation: code, config: { script: echo }, input: { n: 1 } }
    finally:
      - type: parallel
        steps:
          - { name: cleanup, operation: code, config: { script: echo }, input: { cleaned: true } }
` }, scripts);
    const res = await app.run('t2');
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s: any) => s.path)).toEqual(['t/parallel.1/work', 't/finally.parallel.1/cleanup']);
  });

  it('a control node named like an unnamed sibling (sequence-1) runs: a generated segment is never a name', async () => {
    const app = appWith({ t3: `agents:
  - type: sequence
    steps:
      - { name: a, operation: code, config: { script: echo }, input: { a: 1 } }
  - name: sequence-1
    type: sequence
    steps:
      - { name: b, operation: code, config: { script: echo }, input: { b: 1 } }
` }, scripts);
    const res = await app.run('t3');
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s: any) => s.path)).toEqual(['sequence.1/a', 'sequence-1/b']);
  });
});

import { advance } from '../../src/runtime/interpreter';

function compile(source: string, scriptsIn: Record<string, unknown> = scripts) {
  const r = loadEnsemble({ file: 'ensembles/x.yaml', source, hash: 'h' }, { kinds: stepKinds, scripts: new Set(Object.keys(scriptsIn)) });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.ensemble;
}

describe('limits count control nodes too', () => {
  it('nested foreach over skipped branches stops at the limit of records (STEP_LIMIT), not at memory', async () => {
    const items = JSON.stringify(Array.from({ length: 300 }, (_, i) => i));
    const ensemble = compile(`agents:
  - name: outer
    type: foreach
    items: ${items}
    maxConcurrency: 100
    step:
      name: inner
      type: foreach
      items: ${items}
      maxConcurrency: 100
      step:
        type: branch
        condition: false
        then:
          - { name: never, operation: code, config: { script: echo } }
`);
    const state = await advance(ensemble, { executionId: 'x', ensemble: 'x', hash: 'h', input: {}, startedAt: new Date().toISOString(), status: 'running', steps: [] }, { env, scripts, kinds: stepKinds });
    // 300 x 300 would be 90,000 records (1,000 x 1,000, a million).
    expect(state.status).toBe('failed');
    expect(state.error?.code).toBe('STEP_LIMIT');
    expect(Object.keys(state.nodes ?? {}).length).toBeLessThanOrEqual(LIMITS.stepExecutions);
  }, 120_000);
});

describe('checkpoints write what changed', () => {
  it('a foreach of 1,000 items, each step in a branch: a checkpoint writes its new records and the run row, not the state again', async () => {
    const ensemble = compile(`agents:
  - name: each
    type: foreach
    items: \${input.items}
    steps:
      - type: branch
        condition: true
        then:
          - { name: s, operation: code, config: { script: shout }, input: { text: "\${item}" } }
`, projectScripts);
    const id = `exe_cost_${crypto.randomUUID()}`;
    const items = Array.from({ length: 1000 }, (_, i) => `item-${i}`);
    const r = await inObject(stubOf(id), async (instance, ctx) => {
      const store = instance.store;
      const initial = { executionId: id, ensemble: 'x', hash: 'h', input: { items }, startedAt: new Date().toISOString(), status: 'running' as const, steps: [] };
      store.create();
      store.insertRun(initial, { file: 'f', source: 's', hash: 'h' }, Date.now());
      const changes = () => Number(ctx.storage.sql.exec('SELECT total_changes() AS n').one().n);
      const before = changes();
      let checkpoints = 0;
      const state = await advance(ensemble, initial, { env, scripts: projectScripts, kinds: stepKinds, checkpoint: async (s, c) => { checkpoints++; store.saveState(s, Date.now(), c); } });
      const written = changes() - before;
      store.saveState(state, Date.now());
      return { written, checkpoints, status: state.status, stored: new ExecutionStore(ctx.storage.sql).run()!.state.steps.length };
    });
    expect(r).toMatchObject({ status: 'completed', checkpoints: 1000, stored: 1000 });
    // Per checkpoint: the step, its branch's record (new, then completed), the foreach's record, the run row.
    expect(r.written).toBeLessThanOrEqual(1000 * 5);
  }, 60_000);
});

const gate = (name: string, hook: string, approver: string, extra = '') => `name: ${name}
agent: hitl
inputs: { data: { x: 1 }, prompt: "${name}?", approvers: [${approver}] }
config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }${extra}`;
const indent = (s: string, n: number) => s.split('\n').map((l, i) => (i === 0 ? '- ' : '  ') + l).map((l) => ' '.repeat(n) + l).join('\n');

describe('foreach: items beyond a break, or a break that fails, are closed', () => {
  it('breakWhen stops the foreach while a later item (already started) waits: its request is not left open', async () => {
    const hook = `/brk-${crypto.randomUUID()}`;
    const app = hitlApp('brk', `agents:
  - name: fe
    type: foreach
    items: [0, 1]
    maxConcurrency: 2
    breakWhen: \${index == 0}
    steps:
${indent(gate('gate', hook, 'a@example.com', '\ncondition: ${index == 1}'), 6)}
${indent(gate('final', hook, 'b@example.com'), 2)}
`, scripts);
    const start = await app.run('brk');
    expect(start.status).toBe(202);
    const id = start.body.executionId;
    const view = await app.execution(id);
    expect(start.body.requests.map((r: any) => r.step)).toEqual(['final']);
    expect(view.body.steps.find((s: any) => s.path === 'fe[1]/gate').status).toBe('cancelled');
  });

  it('breakWhen that throws, inside try: the foreach fails and an item still waiting is closed with it', async () => {
    const hook = `/brkt-${crypto.randomUUID()}`;
    const app = hitlApp('brkt', `agents:
  - type: try
    steps:
      - name: fe
        type: foreach
        items: [0, 1]
        maxConcurrency: 2
        breakWhen: "\${index == 0 ? JSON.parse('{') : false}"
        steps:
${indent(gate('gate', hook, 'a@example.com', '\ncondition: ${index == 1}'), 10)}
    catch:
      - { name: handled, operation: code, config: { script: echo }, input: { e: "\${error.code}" } }
${indent(gate('final', hook, 'b@example.com'), 2)}
`, scripts);
    const start = await app.run('brkt');
    expect(start.status).toBe(202);
    expect(start.body.requests.map((r: any) => r.step)).toEqual(['final']);
  });
});

async function linksAt(hook: string, count: number, executionId: string) {
  const hits = await hitsAt(hook, count, executionId);
  return hits.map((h: any) => ({ step: h.json.step, token: tokenOf(h.json.approvers[0].callbackUrl), approver: h.json.approvers[0].approver }));
}

describe('parallel any: decisions that land during a walk', () => {
  it('both decided while the run walks on: the branch decided first wins, not the one earlier in the file', async () => {
    const hook = `/anyw2-${crypto.randomUUID()}`;
    const app = hitlApp('anyw2', `agents:
  - type: parallel
    steps:
      - name: race
        type: parallel
        waitFor: any
        steps:
${indent(gate('first', hook, 'a@example.com'), 10)}
${indent(gate('second', hook, 'b@example.com'), 10)}
      - type: sequence
        steps:
${indent(gate('c', hook, 'c@example.com'), 10)}
          - { name: slow, operation: http, config: { url: "\${env.RECEIVER}/slow/1500" } }
output: { winner: "\${race.output.branch}" }
`);
    const start = await app.run('anyw2');
    const id = start.body.executionId;
    const links = await linksAt(hook, 3, id);
    const by = (a: string) => links.find((l) => l.approver === a)!;
    expect((await app.decide(by('c@example.com').token, { approved: true })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300)); // the walk is in the slow http step now
    expect((await app.decide(by('b@example.com').token, { approved: true })).status).toBe(200); // 'second' decided first
    await new Promise((r) => setTimeout(r, 200));
    expect((await app.decide(by('a@example.com').token, { approved: true })).status).toBe(200); // 'first' decided later
    const done = await app.until(id, 'completed');
    expect(done.output.winner).toBe('second');
  }, 30_000);
});

import { ExecutionStore } from '../../src/hitl/store';

describe('store: the parts cache after a save that throws part-way', () => {
  it('a part written by a failed save, absent from the next state, is deleted by the next save', async () => {
    const id = `exe_parts_${crypto.randomUUID()}`;
    const out = await inObject(stubOf(id), async (_instance, ctx) => {
      let failAt = -1;
      let inserts = 0;
      const real = ctx.storage.sql;
      const sql = {
        exec: (query: string, ...params: unknown[]) => {
          if (query.startsWith('INSERT OR REPLACE INTO part') && failAt >= 0 && ++inserts === failAt) throw new Error('SQLITE_FULL (injected)');
          return real.exec(query, ...(params as SqlStorageValue[]));
        },
      } as unknown as SqlStorage;
      const store = new ExecutionStore(sql);
      store.create();
      const rec = (path: string) => ({ name: path.split('/').pop()!, path, status: 'completed' as const, input: null, output: { p: path }, startedAt: new Date().toISOString(), durationMs: 1 });
      const base = { executionId: id, ensemble: 'x', hash: 'h', input: {}, startedAt: new Date().toISOString(), status: 'running' as const };
      store.insertRun({ ...base, steps: [rec('a')] }, { file: 'f', source: 's', hash: 'h' }, Date.now());
      // A save with two new records fails after writing the first of them (storage error on the second).
      failAt = 2; inserts = 0;
      let threw = false;
      try { store.saveState({ ...base, steps: [rec('a'), rec('w/ghost'), rec('w/b')] }, Date.now()); } catch { threw = true; }
      failAt = -1;
      // The flow then goes on with a state that does not hold 'w/ghost' (say it was cancelled by the flow and dropped).
      store.saveState({ ...base, steps: [rec('a'), rec('c')] }, Date.now());
      const fresh = new ExecutionStore(real);
      return { threw, paths: fresh.run()!.state.steps.map((r: any) => r.path ?? r.name) };
    });
    expect(out.threw).toBe(true);
    expect(out.paths).toEqual(['a', 'c']);
  });
});

describe('visibility: a loop condition reading a step of a loop nested in it', () => {
  it('is a load problem that names the inner loop (at run time it could never see the step)', async () => {
    const app = appWith({ wl: `agents:
  - name: w
    type: while
    maxIterations: 5
    condition: \${!check.executed}
    steps:
      - name: fe
        type: foreach
        items: [1]
        step: { name: check, operation: code, config: { script: echo }, input: { ok: true } }
` }, scripts);
    const res = await app.run('wl');
    expect(res.status).toBe(422);
    expect(res.body.error.details.map((d: any) => d.message)).toEqual(["step 'check' is inside foreach 'fe': outside it, read the loop's output (`${fe.output}`)"]);
  });
});

describe('held: load-time refusals', () => {
  const problems = (source: string) => {
    const r = loadEnsemble({ file: 'ensembles/x.yaml', source, hash: 'h' }, { kinds: stepKinds, scripts: new Set(['echo']) });
    return r.ok ? [] : r.problems.map((p) => p.message);
  };
  const fe = (extra: string) => `agents:
  - name: fe
    type: foreach
    items: [1, 2]
${extra}
    step: { name: s, operation: code, config: { script: echo } }
`;
  it.each(['    maxConcurrency: 0', '    maxConcurrency: -3', '    maxConcurrency: 1.5', '    maxConcurrency: 1000000', '    maxConcurrency: "${input.n}"'])('%s', (extra) => {
    expect(problems(fe(extra)).length).toBeGreaterThan(0);
  });
  it('ids with / or [ in flow, names with /', () => {
    expect(problems(`name: f
agents:
  - { name: g, operation: code, config: { script: echo } }
flow:
  - { agent: g, id: "a/b" }
  - { agent: g, id: "c[1]" }
`).length).toBeGreaterThanOrEqual(2);
  });
});

describe('a script that changes what it was given', () => {
  it('changes its own copy: the records (in memory and stored) keep what the earlier step returned', async () => {
    const mine = {
      echo: scripts.echo,
      mutate: { default: (ctx: { input: { list: number[] } }) => { ctx.input.list.push(99); return { n: ctx.input.list.length }; } },
      read: { default: (ctx: { input: unknown }) => ctx.input },
    };
    const ensemble = compile(`agents:
  - { name: src, operation: code, config: { script: echo }, input: { list: [1, 2] } }
  - { name: m, operation: code, config: { script: mutate }, input: "\${src.output}" }
  - { name: r, operation: code, config: { script: read }, input: "\${src.output.list.length}" }
`, mine);
    const id = `exe_mut_${crypto.randomUUID()}`;
    const out = await inObject(stubOf(id), async (instance, ctx) => {
      const store = instance.store;
      const initial = { executionId: id, ensemble: 'x', hash: 'h', input: {}, startedAt: new Date().toISOString(), status: 'running' as const, steps: [] };
      store.create();
      store.insertRun(initial, { file: 'f', source: 's', hash: 'h' }, Date.now());
      const state = await advance(ensemble, initial, { env, scripts: mine, kinds: stepKinds, checkpoint: async (s, c) => store.saveState(s, Date.now(), c) });
      store.saveState(state, Date.now());
      const stored = new ExecutionStore(ctx.storage.sql).run()!.state;
      return { memory: state.steps.map((r: any) => [r.name, r.output]), stored: stored.steps.map((r: any) => [r.name, r.output]) };
    });
    expect(out.stored).toEqual(out.memory);
    expect(out.memory).toEqual([['src', { list: [1, 2] }], ['m', { n: 3 }], ['r', 2]]);
  });
});

describe('held: parallel any nested in a foreach', () => {
  it('each item closes only its own loser', async () => {
    const hook = `/fany-${crypto.randomUUID()}`;
    const app = hitlApp('fany', `agents:
  - name: fe
    type: foreach
    items: [0, 1]
    maxConcurrency: 2
    step:
      name: race
      type: parallel
      waitFor: any
      steps:
        - name: a
          agent: hitl
          inputs: { data: { x: 1 }, prompt: "a \${index}", approvers: ["a\${index}@example.com"] }
          config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
        - name: b
          agent: hitl
          inputs: { data: { x: 1 }, prompt: "b \${index}", approvers: ["b\${index}@example.com"] }
          config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
output: { r: "\${fe.output}" }
`);
    const start = await app.run('fany');
    const id = start.body.executionId;
    expect(start.body.requests.map((r: any) => r.step)).toEqual(['fe[0]/race/a', 'fe[0]/race/b', 'fe[1]/race/a', 'fe[1]/race/b']);
    const links = await linksAt(hook, 4, id);
    const by = (a: string) => links.find((l) => l.approver === a)!.token;
    expect((await app.decide(by('b0@example.com'), { approved: true })).status).toBe(200);
    const mid = await app.until(id, 'suspended');
    await new Promise((r) => setTimeout(r, 100));
    const mid2 = await app.execution(id);
    expect(mid2.body.requests.map((r: any) => r.step)).toEqual(['fe[1]/race/a', 'fe[1]/race/b']);
    expect((await app.decide(by('a0@example.com'), { approved: true })).status).toBe(410);
    expect((await app.decide(by('a1@example.com'), { approved: false })).status).toBe(200);
    const done = await app.until(id, 'completed');
    expect(done.output.r.map((o: any) => o.branch)).toEqual(['b', 'a']);
    expect((await app.decide(by('b1@example.com'), { approved: true })).status).toBe(410);
    void mid;
  }, 30_000);
});

describe('cancel right after a decision', () => {
  it('the decided step keeps its decision in the cancelled run; the other is cancelled', async () => {
    const hook = `/cxl-${crypto.randomUUID()}`;
    const app = hitlApp('cxl', `agents:
  - name: reviews
    type: parallel
    steps:
${indent(gate('a', hook, 'a@example.com'), 6)}
${indent(gate('b', hook, 'b@example.com'), 6)}
`);
    const start = await app.run('cxl');
    const id = start.body.executionId;
    const links = await linksAt(hook, 2, id);
    const a = links.find((l) => l.approver === 'a@example.com')!;
    // The decision and then the cancel, in one turn of the object: before its follow-up takes the decision in.
    const [d, c] = await inObject(stubOf(id), async (instance) => {
      const decided = await instance.decide(a.token, { approved: true }, {});
      const cancelled = await instance.cancel('changed my mind');
      return [decided.ok, cancelled.ok];
    });
    await new Promise((r) => setTimeout(r, 300));
    const view = await app.execution(id);
    expect([d, c]).toEqual([true, true]);
    expect(view.body.status).toBe('cancelled');
    expect(view.body.steps.map((s: any) => [s.path, s.status])).toEqual([['reviews/a', 'completed'], ['reviews/b', 'cancelled']]);
  }, 30_000);
});

describe('inbox decision without ?step', () => {
  it('goes to the request that waits on the viewer, not one they already decided', async () => {
    const hook = `/inb-${crypto.randomUUID()}`;
    const app = hitlApp('inb', `agents:
  - name: reviews
    type: parallel
    steps:
      - name: a
        agent: hitl
        inputs: { data: { x: 1 }, prompt: "a?", approvers: [x@example.com, y@example.com], minApprovals: 2 }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
${indent(gate('b', hook, 'x@example.com'), 6)}
`);
    const start = await app.run('inb');
    const id = start.body.executionId;
    const out = await inObject(stubOf(id), async (instance) => {
      const first = await instance.decideAs('x@example.com', { approved: true }, {});
      const items = await instance.inboxItems('x@example.com');
      const second = await instance.decideAs('x@example.com', { approved: true }, {});
      return { first: first.ok ? first.value.step : first.error, items: items.map((i: any) => i.step), second: second.ok ? second.value.step : second.error };
    });
    expect(out.items).toEqual(['reviews/b']);
    expect(out.second).toBe('reviews/b');
  }, 30_000);
});

describe('names that are members of every JavaScript object', () => {
  it.each(['constructor', 'toString', 'hasOwnProperty'])('a control node named %s runs like any other (it answered 500)', async (name) => {
    const app = appWith({ proto: `agents:
  - name: ${name}
    type: sequence
    steps:
      - { name: a, operation: code, config: { script: echo }, input: { ok: true } }
` }, scripts);
    const res = await app.run('proto');
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s: any) => s.path)).toEqual([`${name}/a`]);
  });
  it('__proto__ is refused as a name when the file loads', () => {
    const r = loadEnsemble({ file: 'ensembles/x.yaml', source: `agents:
  - name: __proto__
    type: branch
    condition: true
    then:
      - { name: a, operation: code, config: { script: echo }, input: { ok: true } }
`, hash: 'h' }, { kinds: stepKinds, scripts: new Set(['echo']) });
    expect(r.ok ? [] : r.problems.map((p) => p.message)).toEqual(["'name': step names use letters, digits, _ and - only (and `__proto__` is reserved) (got '__proto__')"]);
  });
});

describe('conductor flow: a definition that runs itself', () => {
  it('is one problem naming the cycle (it was expanded to the nesting limit: 262,142 problems, or out of memory)', () => {
    const src = (n: number) => `name: rec
agents:
  - name: d
    type: parallel
    steps:
${Array.from({ length: n }, () => '      - { agent: d }').join('\n')}
flow:
  - agent: d
`;
    for (const n of [1, 2, 3]) {
      const r = loadEnsemble({ file: 'ensembles/rec.yaml', source: src(n), hash: 'h' }, { kinds: stepKinds, scripts: new Set() });
      const messages = r.ok ? [] : r.problems.map((p) => p.message);
      // One per use of itself (and the parallel left without steps), never an expansion.
      expect(messages.filter((m) => m === "agent 'd' runs itself (d → d): a definition cannot contain itself; use a while or a foreach to repeat")).toHaveLength(n);
      expect(messages.length).toBeLessThanOrEqual(n + 1);
    }
  });

  it('definitions used inside each other that multiply past the size of a tree are one problem, and a long list of problems is cut', () => {
    // d0 runs d1 four times, d1 runs d2 four times, ...: 4^8 = 65,536 steps.
    const defs = Array.from({ length: 8 }, (_, i) => `  - name: d${i}\n    type: parallel\n    steps:\n${`      - { agent: d${i + 1} }\n`.repeat(4)}`).join('');
    const src = `name: big\nagents:\n${defs}  - { name: d8, operation: code, config: { script: echo } }\nflow:\n  - agent: d0\n`;
    const r = loadEnsemble({ file: 'ensembles/big.yaml', source: src, hash: 'h' }, { kinds: stepKinds, scripts: new Set(['echo']) });
    const messages = r.ok ? [] : r.problems.map((p) => p.message);
    expect(messages.filter((m) => m.startsWith('the flow has more than 5000 steps'))).toHaveLength(1);
    expect(messages.length).toBeLessThanOrEqual(LIMITS.loadProblems + 1);
    expect(messages.at(-1)).toMatch(/^and \d+ more problems \(the first 200 are listed\)$/);
  }, 120_000);
});

describe('parallel all: a branch that fails stops the others', () => {
  it('the other branch starts no step after the node has failed', async () => {
    const hook = `/pall-${crypto.randomUUID()}`;
    const app = appWith({ pall: `agents:
  - name: both
    type: parallel
    steps:
      - { name: bad, operation: code, config: { script: boom } }
      - type: sequence
        steps:
          - { name: wait, operation: http, config: { url: "\${env.RECEIVER}/slow/300" } }
          - { name: charge, operation: http, config: { url: "\${env.RECEIVER}${hook}", body: { charge: 1 } } }
` }, scripts);
    const res = await app.run('pall');
    expect(res.status).toBe(422);
    const hits = await received(hook);
    expect(hits).toHaveLength(0);
  }, 20_000);
});
