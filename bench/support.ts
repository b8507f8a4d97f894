// What the HTTP benchmarks share: a local receiver, `wrangler dev` on a copy of the project with
// the benchmark's own ensembles, the API headers, and when a request reached the receiver.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, projectCopy, startDevServer } from '../test/support/dev-server';
import { startReceiver } from '../test/support/receiver';

/**
 * By default the Worker (and every baseline) runs in workerd started through wrangler's API with
 * its inspector off. Under `wrangler dev` (`BENCH_INSPECTOR=on`, the second column), every
 * `console.log` and every outbound `fetch` of the Worker is also sent to wrangler's inspector proxy
 * (the `Network` events DevTools shows), which forwards each one to wrangler's Node process as a
 * debug log line; no deployed Worker pays that. Both sides of every ratio run the same way.
 */
export const inspectorOff = process.env.BENCH_INSPECTOR !== 'on';

/** `ensembles(receiverUrl)` gives the files to add (name -> YAML); they may post to the receiver. */
export async function benchServer(ensembles: (receiverUrl: string) => Record<string, string>) {
  const receiver = await startReceiver();
  const project = projectCopy();
  for (const [name, source] of Object.entries(ensembles(receiver.url))) writeFileSync(join(project, 'ensembles', `${name}.yaml`), source);
  const persistTo = mkdtempSync(join(tmpdir(), 'bench-'));
  // LOG_LEVEL=warn npm run bench:round-trip: the same without a log line per run (README).
  const vars = process.env.LOG_LEVEL ? { LOG_LEVEL: process.env.LOG_LEVEL } : undefined;
  const server = inspectorOff ? await withoutInspector(project, persistTo, vars) : await startDevServer({ cwd: project, persistTo, ...(vars ? { vars } : {}) });
  return {
    server,
    receiver,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    /** When a request to `path` that mentions `id` reached the receiver (epoch ms). */
    async arrival(path: string, id: string): Promise<number> {
      for (;;) {
        const hit = receiver.received.find((r) => r.path === path && r.body.includes(id));
        if (hit) return hit.at;
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    async stop() {
      await server.stop();
      await receiver.close();
    },
  };
}

/** The project at `cwd` as `npm start` prepares it (registry, local D1), served with no inspector. */
async function withoutInspector(cwd: string, persistTo: string, vars: Record<string, string> = {}) {
  const node = (args: string[]) => {
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' } });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  };
  node(['tools/gen-registry.mjs']);
  node(['node_modules/wrangler/bin/wrangler.js', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo]);
  const port = await freePort();
  const apiKey = 'bench-api-key';
  const bindings = Object.fromEntries(Object.entries({ API_KEY: apiKey, ...vars }).map(([k, value]) => [k, { type: 'plain_text' as const, value }]));
  const { unstable_startWorker } = await import('wrangler');
  const worker = await unstable_startWorker({
    config: join(cwd, 'wrangler.toml'),
    bindings,
    dev: { inspector: false, server: { hostname: '127.0.0.1', port }, persist: persistTo, logLevel: 'error', watch: false },
  });
  await worker.ready;
  return { url: `http://127.0.0.1:${port}`, apiKey, stop: () => worker.dispose() };
}

/** `n` requests made by `make`, eight at a time; each answer is read, and one that is not ok throws. */
export async function load(n: number, make: () => Promise<Response>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next++ < n) {
      const res = await make();
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${res.status}`);
    }
  }));
}

export const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** An approval that posts to the receiver once it is decided (`notify` also sends it a webhook). */
export const approvalEnsemble = (receiverUrl: string, notify: boolean) => `agents:
  - name: approve
    agent: hitl
    inputs: { prompt: Bench, approvers: [bench@example.com], returnLinks: true }
${notify ? `    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "${receiverUrl}/notify" } }\n` : ''}  - name: after
    operation: http
    config: { url: "${receiverUrl}/done", body: { id: "\${execution.id}" } }
`;

/** `wrangler dev` on another Worker (a baseline such as bench/baseline), on a free port. */
export async function startBaseline(config: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  if (inspectorOff) {
    const { unstable_startWorker } = await import('wrangler');
    const worker = await unstable_startWorker({ config, dev: { inspector: false, server: { hostname: '127.0.0.1', port }, persist: mkdtempSync(join(tmpdir(), 'baseline-')), logLevel: 'error', watch: false } });
    await worker.ready;
    return { url: `http://127.0.0.1:${port}`, stop: () => void worker.dispose() };
  }
  const child = spawn(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'dev', '--config', config, '--port', String(port), '--ip', '127.0.0.1', '--persist-to', mkdtempSync(join(tmpdir(), 'baseline-'))], {
    stdio: 'ignore', detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  });
  const stop = () => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ } };
  process.on('exit', stop);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(url)).ok) break; } catch { /* starting */ }
    if (i > 300) { stop(); throw new Error(`${config} did not start`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, stop };
}

/** A five-step code-only ensemble (each step greets the previous one's message): a flat run. */
export const flatEnsemble = `agents:
${[1, 2, 3, 4, 5].map((i) => `  - name: s${i}
    operation: code
    config: { script: greet }
    input: { name: "${i === 1 ? '${input.name}' : `\${s${i - 1}.output.message}`}" }`).join('\n')}
`;
