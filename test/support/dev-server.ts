import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServer {
  url: string;
  apiKey: string;
  output: () => string;
  /** Stops the server; SIGKILL simulates a crash (nothing is flushed or shut down cleanly). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts the product the way the README does (`npm start -- <args>`, i.e. tools/start.mjs and
 * `wrangler dev`) on a free port with its own persisted state, and waits until it answers.
 */
export async function startDevServer(options: { persistTo: string; vars?: Record<string, string>; port?: number; cwd?: string }): Promise<DevServer> {
  // wrangler restarts workerd once when its file watcher is ready; on a loaded machine the new
  // workerd can find the port still held by the one it replaces and exit ("Address already in
  // use"). That is wrangler's race, not the product's: start again, on the same port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof Error && e.message.includes('Address already in use'))) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function startOnce(options: { persistTo: string; vars?: Record<string, string>; port?: number; cwd?: string }): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  // A copy of the project unless one is given: wrangler reads the `.dev.vars` of the folder it
  // runs in, and a developer's own secrets must never change what a test sees.
  const cwd = options.cwd ?? projectCopy();
  const apiKey = 'e2e-api-key';
  const vars = Object.entries({ API_KEY: apiKey, ...options.vars }).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  // --ip is passed through like every argument (npm start adds its own only when none is given).
  const child: ChildProcess = spawn(process.execPath, ['tools/start.mjs', '--port', String(port), '--ip', '127.0.0.1', '--persist-to', options.persistTo, ...vars], {
    cwd,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      if (!options.cwd) rmSync(cwd, { recursive: true, force: true });
      throw new Error(`dev server exited early:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`dev server did not start in time:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    apiKey,
    output: () => log,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      // The whole process group: start.mjs, wrangler and workerd.
      try { process.kill(-child.pid!, signal); } catch { /* gone */ }
      await exited;
      if (signal === 'SIGKILL') spawnSync('pkill', ['-9', '-f', `--port ${port}`]);
      if (!options.cwd) rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/**
 * A copy of the project in a temporary directory (node_modules linked), for a test that edits
 * ensembles/ without touching the files other tests read.
 */
export function projectCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'project-'));
  for (const entry of ['src', 'ensembles', 'agents', 'prompts', 'scripts', 'tools', 'migrations', 'docs', 'wrangler.toml', 'package.json', 'tsconfig.json']) {
    cpSync(join(root, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}
