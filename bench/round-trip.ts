// `npm run bench:round-trip`: where the time of an approval goes, and what a flat run costs, each
// against a bare route of the same `wrangler dev` server (ratios, never assertions).
//
// Round trip, per phase (p50 of N sequential runs):
//   start   POST /ensembles/bench-approval -> 202 (the run suspends into its Durable Object)
//   notify  202 -> the webhook notification arrives at a local receiver
//   decide  POST /callback/:token -> 200
//   resume  200 -> the step after the approval has run (it posts to the receiver)
// Flat run: a five-step code-only ensemble, requests per second at concurrency 8 and p50 latency.
import { approvalEnsemble, benchServer, p50 } from './support';

const N = Number(process.env.N ?? 30);
const flatEnsemble = `agents:
${[1, 2, 3, 4, 5].map((i) => `  - name: s${i}
    operation: code
    config: { script: greet }
    input: { name: "${i === 1 ? '${input.name}' : `\${s${i - 1}.output.message}`}" }`).join('\n')}
`;
const bench = await benchServer((url) => ({ 'bench-flat': flatEnsemble, 'bench-approval': approvalEnsemble(url, true) }));
const { server, headers, arrival } = bench;

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

  const phases = { start: [] as number[], notify: [] as number[], decide: [] as number[], resume: [] as number[], total: [] as number[] };
  for (let i = 0; i < N + 3; i++) {
    const t0 = Date.now();
    const res = await fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
    const body = (await res.json()) as { executionId: string; pending: { links: { personal: { url: string }[] } } };
    const t1 = Date.now();
    const tNotify = await arrival('/notify', body.executionId);
    const t2 = Date.now();
    const decided = await fetch(body.pending.links.personal[0]!.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' });
    await decided.arrayBuffer();
    const t3 = Date.now();
    const tDone = await arrival('/done', body.executionId);
    if (i < 3) continue; // warm-up
    phases.start.push(t1 - t0);
    phases.notify.push(Math.max(0, tNotify - t1));
    phases.decide.push(t3 - t2);
    phases.resume.push(Math.max(0, tDone - t3));
    phases.total.push((t1 - t0) + Math.max(0, tNotify - t1) + (t3 - t2) + Math.max(0, tDone - t3));
  }

  const line = (label: string, ms: number) => `${label.padEnd(34)}${ms.toFixed(1).padStart(8)} ms  ${(ms / p50(bareMs)).toFixed(1).padStart(6)}x the bare route`;
  console.log(`bare route GET /                  ${p50(bareMs).toFixed(1).padStart(8)} ms  p50, ${bareRps.toFixed(0)} req/s at concurrency 8`);
  console.log(`flat run (5 code steps)           ${p50(flatMs).toFixed(1).padStart(8)} ms  p50, ${flatRps.toFixed(0)} req/s: ${(flatRps / bareRps).toFixed(2)} of the bare route (median of 5 alternating rounds)`);
  console.log(`approval round trip, p50 of ${N}:`);
  console.log(line('  start -> 202', p50(phases.start)));
  console.log(line('  202 -> notification received', p50(phases.notify)));
  console.log(line('  decision -> 200', p50(phases.decide)));
  console.log(line('  200 -> next step ran', p50(phases.resume)));
  console.log(line('  total', p50(phases.total)));
} finally {
  await bench.stop();
}
process.exit(0);
