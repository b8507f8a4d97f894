// What the HTTP benchmarks share: a local receiver, `wrangler dev` on a copy of the project with
// the benchmark's own ensembles, the API headers, and when a request reached the receiver.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, projectCopy, startDevServer } from '../test/support/dev-server';
import { startReceiver } from '../test/support/receiver';

/** `ensembles(receiverUrl)` gives the files to add (name -> YAML); they may post to the receiver. */
export async function benchServer(ensembles: (receiverUrl: string) => Record<string, string>) {
  const receiver = await startReceiver();
  const project = projectCopy();
  for (const [name, source] of Object.entries(ensembles(receiver.url))) writeFileSync(join(project, 'ensembles', `${name}.yaml`), source);
  const server = await startDevServer({ cwd: project, persistTo: mkdtempSync(join(tmpdir(), 'bench-')),
    // LOG_LEVEL=warn npm run bench:round-trip: the same without a log line per run (README).
    ...(process.env.LOG_LEVEL ? { vars: { LOG_LEVEL: process.env.LOG_LEVEL } } : {}) });
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
