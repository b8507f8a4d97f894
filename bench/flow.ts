// `npm run bench:flow`: control flow against its plain equivalent, in the same process and server.
// 1. A foreach of N code items against the same N steps written in sequence: the interpreter's
//    cost per step (in this process: loader and interpreter as the Worker runs them), median of
//    alternating rounds. Goal: the foreach within 1.2x.
// 2. Decision -> the run continued, with 100 approvals open in one run against 1 open (a foreach
//    of hitl steps, each followed by a step that reaches the receiver). Goal: within 1.2x. The
//    decision is sent once the start's own follow-up work (notifications, the index row with its
//    100 approvers) is over, as a person's would be: sent at once, it waits on that work instead.
import { loadEnsemble } from '../src/ensemble/loader';
import { stepKinds } from '../src/kinds';
import { advance } from '../src/runtime/interpreter';
import type { RunState } from '../src/runtime/run-state';
import { benchServer, p50 } from './support';

const N = Number(process.env.ITEMS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
// A decision's latency moves by a few ms from one round to the next: more rounds than the rest.
const DECISION_ROUNDS = Number(process.env.DECISION_ROUNDS ?? 30);
const SETTLE_MS = 300;
const scripts = { inc: { default: (ctx: { input: { n: number } }) => ({ n: ctx.input.n + 1 }) } };
const env = { HITL_PUBLIC_VARS: '' } as never;

const foreach = `agents:
  - name: each
    type: foreach
    items: \${input.items}
    step: { name: inc, operation: code, config: { script: inc }, input: { n: \${item} } }
`;
const sequence = `agents:\n${Array.from({ length: N }, (_, i) => `  - name: s${i}\n    operation: code\n    config: { script: inc }\n    input: { n: ${i} }`).join('\n')}\n`;

function compiled(name: string, source: string) {
  const r = loadEnsemble({ file: `ensembles/${name}.yaml`, source }, { kinds: stepKinds, scripts: new Set(['inc']) });
  if (!r.ok) throw new Error(`${name}: ${r.problems.map((p) => p.message).join('; ')}`);
  return r.ensemble;
}

async function cpuMs(ensemble: ReturnType<typeof compiled>, input: unknown): Promise<number> {
  const state: RunState = { executionId: 'exe_bench', ensemble: ensemble.name, hash: '', input, startedAt: new Date().toISOString(), status: 'running', steps: [] };
  const start = process.cpuUsage();
  const out = await advance(ensemble, state, { env, scripts, kinds: stepKinds });
  const used = process.cpuUsage(start);
  if (out.status !== 'completed' || out.steps.length !== N) throw new Error(`${ensemble.name}: ${out.status} ${JSON.stringify(out.error)}`);
  return (used.user + used.system) / 1000;
}

async function interpreterCost(): Promise<void> {
  const loop = compiled('bench-foreach', foreach);
  const flat = compiled('bench-sequence', sequence);
  const items = Array.from({ length: N }, (_, i) => i);
  await cpuMs(loop, { items }); await cpuMs(flat, {}); // warm up
  const ratios: number[] = [];
  const loopMs: number[] = [];
  const flatMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await cpuMs(loop, { items });
    const b = await cpuMs(flat, {});
    loopMs.push(a); flatMs.push(b); ratios.push(a / b);
  }
  const spread = `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
  console.log(`foreach of ${N} code items vs the same ${N} steps in sequence: ${(p50(loopMs) * 1000 / N).toFixed(1)} vs ${(p50(flatMs) * 1000 / N).toFixed(1)} µs of CPU per step (p50 of ${ROUNDS} rounds): ${p50(ratios).toFixed(2)}x (spread ${spread}; goal <= 1.2)`);
}

/** A run that waits on `n` approvals at once (links in the 202), each followed by a step that reaches the receiver. */
const manyOpen = (receiverUrl: string) => `agents:
  - name: each
    type: foreach
    items: \${input.items}
    maxConcurrency: 100
    steps:
      - name: ok
        agent: hitl
        inputs: { prompt: "Item \${item}?", data: \${item}, approvers: [bench@example.com], returnLinks: true }
      - name: after
        operation: http
        config: { url: "${receiverUrl}/continued", body: { id: "\${execution.id}", item: "\${item}" } }
`;

async function decisionLatency(): Promise<void> {
  const bench = await benchServer((url) => ({ 'bench-many-open': manyOpen(url) }));
  const { server, headers, receiver } = bench;
  try {
    const sample = async (open: number): Promise<number> => {
      const res = await fetch(`${server.url}/ensembles/bench-many-open`, { method: 'POST', headers, body: JSON.stringify({ items: Array.from({ length: open }, (_, i) => i) }) });
      const body = (await res.json()) as { executionId: string; requests: { links: { personal: { url: string }[] } }[] };
      if (res.status !== 202 || body.requests.length !== open) throw new Error(`start: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      // Decide the middle one: the rest stay open.
      const link = body.requests[Math.floor(open / 2)]!.links.personal[0]!.url;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const t = Date.now();
      await (await fetch(link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' })).arrayBuffer();
      for (;;) {
        const hit = receiver.received.find((r) => r.path === '/continued' && r.body.includes(body.executionId));
        if (hit) return hit.at - t;
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    await sample(1); await sample(100); // warm up
    const one: number[] = [];
    const hundred: number[] = [];
    for (let r = 0; r < DECISION_ROUNDS; r++) {
      one.push(await sample(1));
      hundred.push(await sample(100));
    }
    const ratios = one.map((o, i) => hundred[i]! / o);
    console.log(`decision -> continued: ${p50(hundred).toFixed(1)} ms with 100 approvals open vs ${p50(one).toFixed(1)} ms with 1 (p50 of ${one.length} alternating rounds): ${(p50(hundred) / p50(one)).toFixed(2)}x (per-round spread ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}; goal <= 1.2)`);
  } finally {
    await bench.stop();
  }
}

await interpreterCost();
if (process.env.FLOW_HTTP !== 'off') await decisionLatency();
process.exit(0);
