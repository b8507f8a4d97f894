// `npm run bench:pending`: decision -> completed latency with 10 executions pending and with
// PENDING (default 10,000), in one `wrangler dev` server: it must stay flat (each execution is its
// own Durable Object; only the executions index in D1 is shared). Reports the ratio.
import { readFileSync, readdirSync } from 'node:fs';
import { approvalEnsemble, benchServer, p50 } from './support';

/** Resident memory of the workerd processes (KiB), from /proc. */
function workerdRssKiB(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('workerd')) continue;
      total += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return total;
}
const failures = new Map<number, number>();

const PENDING = Number(process.env.PENDING ?? 10_000);
const SAMPLES = Number(process.env.SAMPLES ?? 30);
const bench = await benchServer((url) => ({ 'bench-approval': approvalEnsemble(url, false) }));
const { server, headers, arrival } = bench;

async function suspendOne(): Promise<{ id: string; link: string }> {
  let res = await fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
  // A refused start is counted (by status) and sent again after its Retry-After, as a client would.
  while (res.status !== 202) {
    failures.set(res.status, (failures.get(res.status) ?? 0) + 1);
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
    res = await fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
  }
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
  const rssBefore = workerdRssKiB();
  await pendingMore(PENDING - 10);
  const made = (Date.now() - t) / 1000;
  const rssAfter = workerdRssKiB();
  const stats = (await (await fetch(`${server.url}/stats`, { headers })).json()) as { pending?: number };
  const many = await decisionToDone();
  console.log(`decision -> completed, p50 of ${SAMPLES}: ${few.toFixed(1)} ms with 10 pending, ${many.toFixed(1)} ms with ${PENDING} pending: ${(many / few).toFixed(2)}x`);
  console.log(`(${PENDING - 10} suspensions made in ${made.toFixed(0)} s, ${((PENDING - 10) / made).toFixed(0)}/s at concurrency 8; /stats pending: ${stats.pending ?? '?'})`);
  console.log(`workerd resident memory: ${(rssBefore / 1024).toFixed(0)} MiB before, ${(rssAfter / 1024).toFixed(0)} MiB after: ${((rssAfter - rssBefore) / (PENDING - 10)).toFixed(1)} KiB per pending object`);
  console.log(`refused starts (sent again): ${failures.size ? [...failures].map(([status, n]) => `${n} x ${status}`).join(', ') : 'none'}`);
} finally {
  await bench.stop();
}
process.exit(0);
