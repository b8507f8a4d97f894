// `npx tsx bench/profile.ts [flat|suspend]`: where a request's CPU goes inside the Worker's
// isolate. Loads `wrangler dev` (concurrency 8), records a CPU profile of the isolate through
// wrangler's inspector (127.0.0.1:9229), and prints the functions with the most self time and the
// most total time. The profile is written to bench-profile.cpuprofile (open it in Chrome DevTools).
// Sampling adds its own overhead: compare runs with each other, not with the other benchmarks.
// The first function of each request (a router, a middleware) also takes the native work of
// receiving it as its self time: read it against the total-time list.
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
// The profile is read through `wrangler dev`'s inspector: this bench always runs with it on.
process.env.BENCH_INSPECTOR = 'on';
const { approvalEnsemble, benchServer, flatEnsemble, load } = await import('./support');

const what = process.argv[2] === 'suspend' ? 'suspend' : 'flat';
const total = Number(process.env.N ?? (what === 'flat' ? 1500 : 400));
const bench = await benchServer((url) => ({ 'bench-flat': flatEnsemble, 'bench-approval': approvalEnsemble(url, true) }));
const path = what === 'flat' ? '/ensembles/bench-flat' : '/ensembles/bench-approval';
const one = () => fetch(`${bench.server.url}${path}`, { method: 'POST', headers: bench.headers, body: '{"name":"bench"}' });

try {
  await load(300, one); // warm up
  const [target] = (await (await fetch('http://127.0.0.1:9229/json')).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(target!.webSocketDebuggerUrl);
  await new Promise((r) => ws.on('open', r));
  let seq = 0;
  const waiting = new Map<number, (v: any) => void>();
  ws.on('message', (m) => { const msg = JSON.parse(String(m)); waiting.get(msg.id)?.(msg.result); waiting.delete(msg.id); });
  const send = (method: string, params: object = {}) => new Promise<any>((r) => { waiting.set(++seq, r); ws.send(JSON.stringify({ id: seq, method, params })); });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 100 });
  await send('Profiler.start');
  await load(total, one);
  const { profile } = await send('Profiler.stop');
  ws.close();
  writeFileSync('bench-profile.cpuprofile', JSON.stringify(profile));

  type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
  const nodes = new Map<number, Node>(profile.nodes.map((n: Node) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of nodes.values()) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  (profile.samples as number[]).forEach((id, i) => {
    const us = (profile.timeDeltas as number[])[i] ?? 0;
    const leaf = label(nodes.get(id)!);
    self.set(leaf, (self.get(leaf) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(nodes.get(at)!);
      if (!seen.has(l)) { seen.add(l); inclusive.set(l, (inclusive.get(l) ?? 0) + us); }
    }
  });
  const top = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, us]) => `${(us / 1000 / total).toFixed(3).padStart(8)} ms/request  ${k}`).join('\n');
  console.log(`${what}: ${total} requests profiled\n\nself time\n${top(self)}\n\ntotal time (with callees)\n${top(inclusive)}`);
} finally {
  await bench.stop();
}
process.exit(0);
