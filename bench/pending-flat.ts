// `npm run bench:pending`: decision -> completed latency with 10 executions pending and with
// PENDING (default 10,000), in one `wrangler dev` server: it must stay flat (each execution is its
// own Durable Object; only the executions index in D1 is shared). Reports the ratio.
import { approvalEnsemble, benchServer, p50 } from './support';

const PENDING = Number(process.env.PENDING ?? 10_000);
const SAMPLES = Number(process.env.SAMPLES ?? 30);
const bench = await benchServer((url) => ({ 'bench-approval': approvalEnsemble(url, false) }));
const { server, headers, arrival } = bench;

async function suspendOne(): Promise<{ id: string; link: string }> {
  const res = await fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
  const body = (await res.json()) as { executionId: string; pending: { links: { personal: { url: string }[] } } };
  return { id: body.executionId, link: body.pending.links.personal[0]!.url };
}

async function pendingMore(n: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { while (next++ < n) await suspendOne(); }));
}

async function decisionToDone(): Promise<number> {
  const samples: number[] = [];
  const runs = [];
  for (let i = 0; i < SAMPLES; i++) runs.push(await suspendOne());
  for (const run of runs) {
    const t = Date.now();
    const res = await fetch(run.link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' });
    await res.arrayBuffer();
    samples.push((await arrival('/done', run.id)) - t);
  }
  return p50(samples);
}

try {
  await pendingMore(10);
  const few = await decisionToDone();
  const t = Date.now();
  await pendingMore(PENDING - 10);
  const made = (Date.now() - t) / 1000;
  const stats = (await (await fetch(`${server.url}/stats`, { headers })).json()) as { pending?: number };
  const many = await decisionToDone();
  console.log(`decision -> completed, p50 of ${SAMPLES}: ${few.toFixed(1)} ms with 10 pending, ${many.toFixed(1)} ms with ${PENDING} pending: ${(many / few).toFixed(2)}x`);
  console.log(`(${PENDING - 10} suspensions made in ${made.toFixed(0)} s, ${((PENDING - 10) / made).toFixed(0)}/s at concurrency 8; /stats pending: ${stats.pending ?? '?'})`);
} finally {
  await bench.stop();
}
process.exit(0);
