import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectCopy, startDevServer, type DevServer } from '../support/dev-server';
import { waitFor } from '../support/wait';

let server: DevServer;
let project: string;

beforeAll(async () => {
  // A copy of the project, with the worst value builder of the hostile corpus among its ensembles.
  project = projectCopy();
  copyFileSync('test/fixtures/hostile/sibling-array-doubling.yaml', join(project, 'ensembles', 'zz-doubling.yaml'));
  writeFileSync(join(project, 'scripts', 'small.ts'), 'export default () => ({ ok: true });\n');
  // A prompt and data that come from the caller: what an attacker would fill with terminal escapes.
  writeFileSync(join(project, 'ensembles', 'zz-escapes.yaml'), 'agents:\n  - name: ask\n    agent: hitl\n    inputs: { prompt: "${input.p}", data: "${input.p}", approvers: ["${input.who}"] }\n');
  server = await startDevServer({ persistTo: mkdtempSync(join(tmpdir(), 'ens-e2e-')), cwd: project });
});
afterAll(async () => {
  await server?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

it('a run that builds a value doubling per level is refused at once, and every other route keeps answering meanwhile', async () => {
  // Before: this ensemble grew workerd to 1.8 GB and every route answered 503 until a restart.
  // The bound: /healthz answers within 2 s at every poll while the runs go on (documented in
  // docs/ensembles.md, Expressions).
  let polling = true;
  const polls: number[] = [];
  const poller = (async () => {
    while (polling) {
      const started = Date.now();
      const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      polls.push(Date.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const input = JSON.stringify({ s: 'x'.repeat(250_000), t: 'yyyyyyyyyy' });
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${server.url}/ensembles/zz-doubling`, {
      method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: input,
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as any;
    expect(body.error.details).toMatchObject({ step: 's', code: 'EXPRESSION_LIMIT' });
    expect(body.error.details.message).toMatch(/^input\.l\d+: /);
  }
  polling = false;
  await poller;
  expect(polls.length).toBeGreaterThan(0);
  expect(Math.max(...polls)).toBeLessThan(2000);
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
});

it('npm start serves the example ensembles over HTTP with the API key', async () => {
  const res = await fetch(`${server.url}/ensembles/hello`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Grace', shout: true }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { status: string; output: unknown };
  expect(body.status).toBe('completed');
  expect(body.output).toEqual({ message: 'HELLO, GRACE!', length: 13, shouted: true });

  const denied = await fetch(`${server.url}/ensembles/hello`, { method: 'POST', body: '{}' });
  expect(denied.status).toBe(401);
  const invalid = await fetch(`${server.url}/ensembles/hello`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}` },
    body: '{}',
  });
  expect(invalid.status).toBe(400);
});

it('with no model configured, npm start answers operation think with the echo provider', async () => {
  const res = await fetch(`${server.url}/ensembles/marketing-campaign`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ product: 'Rocket' }),
  });
  expect(res.status).toBe(202);
  const { executionId } = (await res.json()) as { executionId: string };
  const execution = (await (await fetch(`${server.url}/executions/${executionId}`, { headers: { authorization: `Bearer ${server.apiKey}` } })).json()) as any;
  expect(execution.steps[0]).toMatchObject({ name: 'generate-campaign', status: 'completed', output: 'Write a launch campaign for Rocket' });
  expect(server.output()).toContain('No model provider configured: operation think uses the echo provider');
});

it("every example runs with the input README gives it, and answers as README says", async () => {
  const readme = readFileSync('README.md', 'utf8');
  const rows = [...readme.matchAll(/^\| `([a-z-]+)` \| `(\{.*\})` \| (\d{3}): (.*) \|$/gm)];
  expect(rows.length).toBeGreaterThanOrEqual(14);
  const listed = new Set(rows.map((r) => r[1]));
  for (const file of readdirSync('ensembles')) expect(listed, `README gives no input for ${file}`).toContain(file.replace(/\.yaml$/, ''));
  for (const [, name, input, status, says] of rows) {
    const res = await fetch(`${server.url}/ensembles/${name}`, { method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: input });
    const body = (await res.json()) as any;
    expect(res.status, `${name} ${input}: ${JSON.stringify(body).slice(0, 300)}`).toBe(Number(status));
    if (name === 'transaction-approval' && says!.startsWith('low risk')) expect(body.output).toEqual({ auto: true, approved: true, processed: true });
    if (name === 'transaction-approval' && says!.startsWith('high risk')) expect(body.pending).toMatchObject({ step: 'manual-review', approvers: ['risk@example.com', 'finance@example.com'] });
  }
});

/** The CLI as a user runs it (`npm run hitl -- ...` is `node tools/cli/main.mjs ...`). */
const hitl = (args: string[], key = server.apiKey) => {
  const r = spawnSync(process.execPath, ['tools/cli/main.mjs', ...args, '--url', server.url], { encoding: 'utf8', env: { ...process.env, API_KEY: key } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

it('the CLI runs, lists, shows, audits, re-notifies and cancels against npm start', async () => {
  const ran = hitl(['run', 'hello', '{"name":"Ada"}', '--json']);
  expect(ran.code, ran.err).toBe(0);
  const flat = JSON.parse(ran.out) as { executionId: string; output: { message: string } };
  expect(flat.output.message).toBe('Hello, Ada.');

  const suspended = hitl(['run', 'expense-approval', '{"amount":120,"category":"travel","manager_email":"boss@example.com"}']);
  expect(suspended.code, suspended.err).toBe(0);
  const id = /^(exe_[0-9a-f]{32}) suspended at /.exec(suspended.out)![1]!;
  expect(suspended.out).toContain('waiting on boss@example.com');

  const pending = hitl(['list', '--status', 'suspended', '--approver', 'BOSS@example.com']);
  expect(pending.code, pending.err).toBe(0);
  expect(pending.out.split('\n')[0]).toMatch(/^EXECUTION\s+ENSEMBLE\s+STATUS\s+STARTED\s+WAITING ON\s+EXPIRES$/);
  expect(pending.out).toMatch(new RegExp(`${id}\\s+expense-approval\\s+suspended\\s+.*boss@example.com`));
  const all = JSON.parse(hitl(['list', '--ensemble', 'hello', '--json']).out) as { executions: { executionId: string }[] };
  expect(all.executions.map((e) => e.executionId)).toContain(flat.executionId);

  expect(hitl(['show', id]).out).toContain('approvers: boss@example.com');
  expect(hitl(['notify', id]).out).toMatch(/console: sent/);
  expect(hitl(['audit', id]).out).toMatch(/renotify/);
  expect(hitl(['cancel', id, '--reason', 'duplicate']).out).toBe(`${id} cancelled\n`);
  expect(JSON.parse(hitl(['show', id, '--json']).out).status).toBe('cancelled');
});

it('the CLI prints server text without terminal controls (tables, show, audit, errors); --json stays exact', () => {
  const hostile = '\u001b]0;pwned\u0007\u001b[2J\u009b31mHello\u001b[0m\u202eevil\rFAKE ROW';
  const ran = hitl(['run', 'zz-escapes', JSON.stringify({ p: hostile, who: 'boss@example.com' }), '--json']);
  expect(ran.code, ran.err).toBe(0);
  const id = (JSON.parse(ran.out) as { executionId: string }).executionId;
  for (const args of [['show', id], ['list', '--ensemble', 'zz-escapes'], ['audit', id], ['run', 'zz-escapes', JSON.stringify({ p: hostile, who: 'x@example.com' })]]) {
    const out = hitl(args);
    expect(out.code, out.err).toBe(0);
    expect(out.out, args.join(' ')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  }
  expect(hitl(['show', id]).out).toContain('Hello');
  // An error body from the server is printed the same way.
  const err = hitl(['show', `exe_${'0'.repeat(32)}\u001b[2J`]);
  expect(err.err).not.toContain('\u001b');
  // A carriage return in the text cannot fake a line of its own.
  expect(hitl(['show', id]).out).not.toMatch(/^FAKE ROW/m);
  // JSON is exact: the escapes are there, as \u escapes (C1 controls and bidi overrides too).
  const json = hitl(['show', id, '--json']).out;
  expect(json).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  expect(JSON.parse(json).pending.prompt).toBe(hostile);
});

/** Splits a shell command line as sh would for these simple lines (quotes, no expansions). */
const shellWords = (line: string) => [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);

it("README's CLI examples run as written against the examples (exe_… is a suspended expense-approval run)", () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /## Command line[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  const lines = block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l.startsWith('npm run hitl -- '));
  expect(lines.length).toBeGreaterThanOrEqual(8);
  const started = hitl(['run', 'expense-approval', '{"amount":120,"category":"travel","manager_email":"boss@example.com"}', '--json']);
  const id = (JSON.parse(started.out) as { executionId: string }).executionId;
  for (const line of lines) {
    const args = shellWords(line.slice('npm run hitl -- '.length)).map((a) => (a === 'exe_…' ? id : a));
    const r = hitl(args);
    expect(r.code, `${line}\n${r.err}`).toBe(0);
  }
});

it('the CLI prints every detail of a refusal, in words and with --json; help is help', () => {
  const plain = hitl(['run', 'hello']);
  expect(plain.code).toBe(1);
  expect(plain.err).toContain("INVALID_INPUT: input does not match the inputs of 'hello'");
  expect(plain.err).toMatch(/\n {2}name: /);
  const json = hitl(['run', 'hello', '--json']);
  expect(json.code).toBe(1);
  const envelope = JSON.parse(json.out) as { error: { code: string; details: { path: string }[] } };
  expect(envelope.error.code).toBe('INVALID_INPUT');
  expect(envelope.error.details.map((d) => d.path)).toContain('name');
  for (const args of [['help'], ['--help']]) {
    const help = hitl(args);
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage: npm run hitl -- <command>');
  }
});

it('show keeps a multi-line prompt readable: its lines indented under the label', () => {
  const ran = hitl(['run', 'zz-escapes', JSON.stringify({ p: 'Line one\nLine two', who: 'boss@example.com' }), '--json']);
  const id = (JSON.parse(ran.out) as { executionId: string }).executionId;
  const out = hitl(['show', id]).out;
  expect(out).toContain('  prompt: Line one\n          Line two');
});

it('the CLI says plainly when the key is wrong, the server is down, or the usage is off', () => {
  const refused = hitl(['list'], 'wrong-key');
  expect(refused.code).toBe(1);
  expect(refused.err).toContain('the API key was refused');
  const down = spawnSync(process.execPath, ['tools/cli/main.mjs', 'list', '--url', 'http://127.0.0.1:9'], { encoding: 'utf8', env: { ...process.env, API_KEY: 'x' } });
  expect(down.status).toBe(1);
  expect(down.stderr).toContain('cannot reach http://127.0.0.1:9: is the Worker running?');
  const usage = hitl(['show']);
  expect(usage.code).toBe(1);
  expect(usage.err).toContain('usage: npm run hitl -- show <executionId>');
  expect(hitl(['frobnicate']).code).toBe(2);
  expect(hitl(['show', 'exe_00000000000000000000000000000000']).err).toContain('NOT_FOUND');
});

it('npm start prints the problems of a broken file as soon as it is saved, and when it is fixed', async () => {
  // A copy of the project: this test edits ensembles/, which other tests must not see.
  const project = projectCopy();
  const own = await startDevServer({ persistTo: mkdtempSync(join(tmpdir(), 'ens-watch-')), cwd: project });
  const name = `zz-broken-${Date.now()}`;
  const file = join(project, 'ensembles', `${name}.yaml`);
  const from = own.output().length;
  try {
    writeFileSync(file, 'agents:\n  - name: a\n    operation: teleport\n');
    await waitFor('the problem in the dev server output', () => own.output().slice(from).includes(`ensembles/${name}.yaml:3:16: unknown operation 'teleport'`) || undefined, 60_000);
    const broken = await fetch(`${own.url}/ensembles`, { headers: { authorization: `Bearer ${own.apiKey}` } });
    const listed = ((await broken.json()) as { ensembles: { name: string; valid: boolean }[] }).ensembles.find((e) => e.name === name);
    expect(listed).toMatchObject({ valid: false });
    rmSync(file, { force: true });
    const fixedFrom = own.output().length;
    await waitFor('all valid again', () => /all \d+ ensembles valid/.test(own.output().slice(fixedFrom)) || undefined, 60_000);
  } finally {
    await own.stop();
    rmSync(project, { recursive: true, force: true });
  }
}, 180_000);
