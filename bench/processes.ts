// `npm run bench:processes`: where the machine's CPU goes per request, by process (Linux /proc).
// Loads one `wrangler dev` (concurrency 8) with a bare route, a five-step flat run and a
// suspension that sends a webhook, and reads each process's CPU time before and after: this
// client (with the webhook receiver), wrangler's Node process and workerd (the Worker, its Durable
// Objects, local D1, and wrangler's proxy workers). With the inspector off (the default, bench/support.ts)
// wrangler runs inside this client instead. Every process shares the same two cores, so a
// request's rate follows its total. `LOG_LEVEL=warn npm run bench:processes` runs the same
// without the one log line per run: under `wrangler dev` each `console.log` also goes through
// wrangler's inspector proxy and its debug log file.
import { readFileSync, readdirSync } from 'node:fs';
import { approvalEnsemble, benchServer, flatEnsemble, load } from './support';

const ticks = 100; // USER_HZ
function cpuByName(): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const name = Number(pid) === process.pid ? 'client (this process)'
        : cmd.some((a) => a.includes('workerd')) ? 'workerd'
        : cmd.some((a) => a.includes('wrangler')) ? 'wrangler (node)'
        : cmd[0]?.includes('node') ? 'other node' : 'other';
      out.set(name, (out.get(name) ?? 0) + (Number(rest[11]) + Number(rest[12])) * 1000 / ticks);
    } catch { /* gone */ }
  }
  return out;
}

const bench = await benchServer((url) => ({ 'bench-flat': flatEnsemble, 'bench-approval': approvalEnsemble(url, true) }));
const url = bench.server.url;
const cases: [string, () => Promise<Response>, number][] = [
  ['GET / (bare route)', () => fetch(`${url}/`), 1000],
  ['flat run (5 code steps)', () => fetch(`${url}/ensembles/bench-flat`, { method: 'POST', headers: bench.headers, body: '{"name":"bench"}' }), 1000],
  ['suspension (webhook)', () => fetch(`${url}/ensembles/bench-approval`, { method: 'POST', headers: bench.headers, body: '{}' }), 300],
];
let base: number | undefined;
try {
  for (const [label, one, n] of cases) {
    await load(100, one);
    await new Promise((r) => setTimeout(r, 300));
    const before = cpuByName();
    const start = performance.now();
    await load(n, one);
    const wall = performance.now() - start;
    await new Promise((r) => setTimeout(r, 300)); // batched index writes and follow-up work land
    const after = cpuByName();
    const per = [...after.entries()].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / n] as const).filter(([, v]) => v > 0.005);
    const total = per.reduce((s, [, v]) => s + v, 0);
    base ??= total;
    console.log(`${label}: ${(n / wall * 1000).toFixed(0)} req/s, ${total.toFixed(2)} CPU ms/request (${(total / base).toFixed(2)}x the bare route)`);
    for (const [k, v] of per.sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(24)} ${v.toFixed(2)} ms`);
  }
} finally {
  await bench.stop();
}
