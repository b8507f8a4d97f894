// `npm run bench:round-trip`: where the time of an approval goes, and what a flat run costs, each
// against a bare route of the same `wrangler dev` server (ratios, never assertions).
//
// Round trip, per phase (p50 of N sequential runs):
//   start   POST /ensembles/bench-approval -> 202 (the run suspends into its Durable Object)
//   notify  202 -> the webhook notification arrives at a local receiver
//   decide  POST /callback/:token -> 200
//   resume  200 -> the step after the approval has run (it posts to the receiver)
// The same round trip on Cloudflare Workflows (bench/baseline: a step posts the notification,
// `step.waitForEvent` waits, `instance.sendEvent` decides, a step posts after it), under its own
// `wrangler dev`, run alternately with ours.
// Flat run: a five-step code-only ensemble, requests per second at concurrency 8 and p50 latency.
// Suspensions: requests per second of runs that suspend, and of the floor of any suspension.
import { approvalEnsemble, benchServer, flatEnsemble, inspectorOff, p50, startBaseline } from './support';

const N = Number(process.env.N ?? 30);
const ROUNDS = Math.max(5, Number(process.env.ROUNDS ?? 5));
const bench = await benchServer((url) => ({ 'bench-flat': flatEnsemble, 'bench-approval': approvalEnsemble(url, true) }));
const { server, headers, arrival, receiver } = bench;
const workflows = await startBaseline('bench/baseline/wrangler.toml');

async function timed(make: () => Promise<Response>): Promise<number> {
  const t = performance.now();
  const res = await make();
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${res.status}`);
  return performance.now() - t;
}

async function rps(make: () => Promise<Response>, total = 400, concurrency = 8): Promise<number> {
  let next = 0;
  const worker = async () => { while (next++ < total) { const res = await make(); await res.arrayBuffer(); if (!res.ok) throw new Error(`${res.status}`); } };
  await Promise.all(Array.from({ length: concurrency }, worker));
  next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return total / ((performance.now() - start) / 1000);
}

try {
  const bare = () => fetch(`${server.url}/`);
  const flat = () => fetch(`${server.url}/ensembles/bench-flat`, { method: 'POST', headers, body: '{"name":"bench"}' });
  // Warm both isolates and the object namespace before anything is timed.
  for (let i = 0; i < 20; i++) { await timed(bare); await timed(flat); }

  const bareMs: number[] = [];
  const flatMs: number[] = [];
  for (let i = 0; i < 200; i++) { bareMs.push(await timed(bare)); flatMs.push(await timed(flat)); }
  // Alternating rounds, and the median of their ratios: the machine's noise hits both sides alike.
  const rounds: { bare: number; flat: number }[] = [];
  for (let i = 0; i < 5; i++) rounds.push({ bare: await rps(bare, 300), flat: await rps(flat, 300) });
  const byRatio = [...rounds].sort((a, b) => a.flat / a.bare - b.flat / b.bare);
  const { bare: bareRps, flat: flatRps } = byRatio[Math.floor(byRatio.length / 2)]!;

  // Suspensions per second, and the floor of one: a new Durable Object per request writing one
  // SQLite row (bench/baseline), against the bare route of its own server. Alternating rounds.
  const suspend = () => fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
  const floor = () => fetch(`${workflows.url}/floor`, { method: 'POST', body: 'x' });
  const baselineBare = () => fetch(`${workflows.url}/`);
  const suspensionRounds: { ours: number; floor: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const b = await rps(bare, 200);
    const ours = await rps(suspend, 200);
    const fb = await rps(baselineBare, 200);
    const fl = await rps(floor, 200);
    suspensionRounds.push({ ours: ours / b, floor: fl / fb });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  type Phases = Record<'start' | 'notify' | 'decide' | 'resume' | 'total', number[]>;
  const empty = (): Phases => ({ start: [], notify: [], decide: [], resume: [], total: [] });
  const ours = empty();
  const theirs = empty();
  /** One round trip: `begin` answers the id and how to decide; the receiver marks the other phases. */
  const roundTrip = async (into: Phases | undefined, begin: () => Promise<{ id: string; decide: () => Promise<Response> }>) => {
    const t0 = Date.now();
    const { id, decide } = await begin();
    const t1 = Date.now();
    const tNotify = await arrival('/notify', id);
    const t2 = Date.now();
    const decided = await decide();
    await decided.arrayBuffer();
    if (!decided.ok) throw new Error(`decision: ${decided.status}`);
    const t3 = Date.now();
    const tDone = await arrival('/done', id);
    if (!into) return; // warm-up
    into.start.push(t1 - t0);
    into.notify.push(Math.max(0, tNotify - t1));
    into.decide.push(t3 - t2);
    into.resume.push(Math.max(0, tDone - t3));
    into.total.push((t1 - t0) + Math.max(0, tNotify - t1) + (t3 - t2) + Math.max(0, tDone - t3));
  };
  const ourTrip = async () => {
    const res = await fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
    const body = (await res.json()) as { executionId: string; pending: { links: { personal: { url: string }[] } } };
    return { id: body.executionId, decide: () => fetch(body.pending.links.personal[0]!.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' }) };
  };
  const theirTrip = async () => {
    const res = await fetch(`${workflows.url}/start`, { method: 'POST', body: JSON.stringify({ receiver: receiver.url }) });
    const { id } = (await res.json()) as { id: string };
    return { id, decide: () => fetch(`${workflows.url}/decide/${id}`, { method: 'POST', body: '{"approved":true}' }) };
  };
  // Alternating, so both see the same machine; in ROUNDS rounds, each giving its own ratio of p50s.
  for (let i = 0; i < 3; i++) {
    await roundTrip(undefined, ourTrip);
    await roundTrip(undefined, theirTrip);
  }
  const perRound = Math.max(3, Math.ceil(N / ROUNDS));
  const roundRatios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const mine = empty();
    const other = empty();
    for (let i = 0; i < perRound; i++) {
      await roundTrip(mine, ourTrip);
      await roundTrip(other, theirTrip);
    }
    roundRatios.push(p50(mine.total) / p50(other.total));
    for (const k of Object.keys(mine) as (keyof Phases)[]) {
      ours[k].push(...mine[k]);
      theirs[k].push(...other[k]);
    }
  }

  const line = (label: string, ms: number) => `${label.padEnd(34)}${ms.toFixed(1).padStart(8)} ms  ${(ms / p50(bareMs)).toFixed(1).padStart(6)}x the bare route`;
  console.log(`bare route GET /                  ${p50(bareMs).toFixed(1).padStart(8)} ms  p50, ${bareRps.toFixed(0)} req/s at concurrency 8`);
  console.log(`flat run (5 code steps)           ${p50(flatMs).toFixed(1).padStart(8)} ms  p50, ${flatRps.toFixed(0)} req/s: ${(flatRps / bareRps).toFixed(2)} of the bare route (median of 5 alternating rounds)`);
  console.log(`suspensions (202) at concurrency 8: ${median(suspensionRounds.map((r) => r.ours)).toFixed(2)} of the bare route; the floor (a new object, one SQLite row): ${median(suspensionRounds.map((r) => r.floor)).toFixed(2)} of its bare route (median of 3 rounds)`);
  console.log(`approval round trip, p50 of ${N}, alternating with the same round trip on Workflows:`);
  const row = (label: string, key: keyof Phases) => console.log(`${line(label, p50(ours[key]))}  Workflows ${p50(theirs[key]).toFixed(1).padStart(6)} ms`);
  row('  start -> 202', 'start');
  row('  202 -> notification received', 'notify');
  row('  decision -> 200', 'decide');
  row('  200 -> next step ran', 'resume');
  row('  total', 'total');
  const sorted = [...roundRatios].sort((a, b) => a - b);
  console.log(`round trip vs Workflows: ${median(roundRatios).toFixed(2)}x, median of ${ROUNDS} alternating rounds of ${perRound} (spread ${sorted[0]!.toFixed(2)}-${sorted.at(-1)!.toFixed(2)}); all ${ours.total.length}: ${(p50(ours.total) / p50(theirs.total)).toFixed(2)}x`);
  console.log(`(${inspectorOff ? 'inspector off: workerd as wrangler starts it, without `wrangler dev`\'s inspector; BENCH_INSPECTOR=on for the `wrangler dev` figures' : 'under `wrangler dev` (BENCH_INSPECTOR=on)'})`);
} finally {
  workflows.stop();
  await bench.stop();
}
process.exit(0);
