// `npm run bench:cold-start`: the first request of a fresh isolate, with the 12 shipped ensembles
// and with 500, and the bundle's size (gzip). Each case bundles the Worker the way `wrangler
// deploy` does (--dry-run --outdir), then starts a fresh workerd isolate (Miniflare) per sample and
// times its first POST /ensembles/hello (module evaluation + registry + the run), against a
// second, warm request of the same isolate; and, in other fresh isolates, its first GET /healthz
// (which counts invalid ensembles from what the generated registry recorded at build time).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { projectCopy } from '../test/support/dev-server';

const SAMPLES = Number(process.env.SAMPLES ?? 7);

function bundle(extra: number): { dir: string; file: string } {
  const project = projectCopy();
  for (let i = 0; i < extra; i++) {
    writeFileSync(join(project, 'ensembles', `generated-${i}.yaml`), `ensemble: generated-${i}
description: a generated ensemble of the cold-start benchmark
inputs:
  name: { type: string, required: true }
agents:
  - name: first
    operation: code
    config: { script: greet }
    input: { name: "\${input.name}" }
  - name: review
    agent: hitl
    condition: \${first.output.message.length > 1000}
    inputs: { prompt: "Review \${input.name}", approvers: [a@example.com, b@example.com], minApprovals: 2, timeout: 1h }
output:
  message: \${first.output.message}
`);
  }
  const out = mkdtempSync(join(tmpdir(), 'cold-out-'));
  const gen = spawnSync(process.execPath, ['tools/gen-registry.mjs'], { cwd: project, encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(gen.stderr);
  const r = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '--outdir', out], { cwd: project, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } });
  if (r.status !== 0) throw new Error(r.stdout + r.stderr);
  const file = readdirSync(out).find((f) => f.endsWith('.js'))!;
  return { dir: out, file: join(out, file) };
}

async function firstRequest(script: string, what: 'run' | 'healthz'): Promise<{ first: number; warm: number }> {
  const mf = new Miniflare({
    modules: true,
    modulesRoot: dirname(script),
    scriptPath: script,
    compatibilityDate: '2026-04-01',
    compatibilityFlags: ['nodejs_compat'],
    bindings: { API_KEY: 'bench' },
    durableObjects: { HITL_STATE: { className: 'HITLState', useSQLite: true } },
  });
  await mf.ready;
  const call = async () => {
    const t = performance.now();
    const res = what === 'run'
      ? await mf.dispatchFetch('http://bench.test/ensembles/hello', { method: 'POST', headers: { authorization: 'Bearer bench', 'content-type': 'application/json' }, body: '{"name":"cold"}' })
      : await mf.dispatchFetch('http://bench.test/healthz');
    const body = await res.text();
    // No D1 is bound here, so /healthz says 503 (d1: missing); its ensembles check must say ok.
    if (what === 'run' ? res.status !== 200 : !body.includes('"ensembles":"ok"')) throw new Error(`${what} answered ${res.status} ${body}`);
    return performance.now() - t;
  };
  const first = await call();
  const warm = await call();
  await mf.dispose();
  return { first, warm };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, { first: number; warm: number; healthz: number; bytes: number; gzip: number }> = {};
for (const [label, extra] of [['12 shipped', 0], ['500 ensembles', 488]] as const) {
  const { file } = bundle(extra);
  const code = readFileSync(file);
  const firsts: number[] = [];
  const warms: number[] = [];
  const healthz: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const { first, warm } = await firstRequest(file, 'run');
    firsts.push(first);
    warms.push(warm);
    healthz.push((await firstRequest(file, 'healthz')).first);
  }
  results[label] = { first: median(firsts), warm: median(warms), healthz: median(healthz), bytes: statSync(file).size, gzip: gzipSync(code).length };
}
const a = results['12 shipped']!;
const b = results['500 ensembles']!;
for (const [label, r] of Object.entries(results)) {
  console.log(`${label.padEnd(14)} first request ${r.first.toFixed(1).padStart(7)} ms (warm ${r.warm.toFixed(1)} ms), first GET /healthz ${r.healthz.toFixed(1)} ms  bundle ${(r.bytes / 1024).toFixed(0)} KiB, ${(r.gzip / 1024).toFixed(0)} KiB gzip`);
}
console.log(`first request, 500 vs 12 ensembles: ${(b.first / a.first).toFixed(2)}x; first GET /healthz: ${(b.healthz / a.healthz).toFixed(2)}x (goal <= 1.5x); median of ${SAMPLES} fresh isolates each`);
process.exit(0);
