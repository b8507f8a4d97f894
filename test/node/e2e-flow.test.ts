import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, projectCopy, startDevServer, type DevServer } from '../support/dev-server';
import { waitFor } from '../support/wait';

// Control flow against `npm start`: approvals open side by side and per item, a race, a fallback
// when an approval times out, and a SIGKILL while three approvals are open. One server (restarted
// once on the same state); the console channel prints every link.

let server: DevServer;
let project: string;
let persistTo: string;
let port: number;

beforeAll(async () => {
  project = projectCopy();
  writeFileSync(join(project, 'ensembles', 'zz-race.yaml'), `agents:
  - name: race
    type: parallel
    waitFor: any
    steps:
      - { name: paid, agent: hitl, inputs: { prompt: Paid?, data: 1, approvers: [billing@example.com] } }
      - { name: veto, agent: hitl, inputs: { prompt: Veto?, data: 1, approvers: [finance@example.com] } }
output: { winner: \${race.output.branch} }
`);
  writeFileSync(join(project, 'ensembles', 'zz-fallback.yaml'), `agents:
  - name: guarded
    type: try
    steps:
      - { name: quick, agent: hitl, inputs: { prompt: Quick?, data: 1, approvers: [lead@example.com], timeout: 2, onTimeout: fail } }
    catch:
      - { name: fallback, operation: code, config: { script: scripts/shout }, input: { text: "\${error.code} at \${error.step}" } }
output: \${guarded.output.text}
`);
  persistTo = mkdtempSync(join(tmpdir(), 'flow-e2e-'));
  port = await freePort();
  server = await startDevServer({ persistTo, port, cwd: project });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(project, { recursive: true, force: true });
});

const api = async (path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};

/** The review link the console printed for `approver` on the request of `step` of `executionId`. */
function linkFor(executionId: string, step: string, approver: string): string | undefined {
  const out = server.output();
  const at = out.lastIndexOf(`/ ${step} (execution ${executionId})`);
  if (at === -1) return undefined;
  const line = new RegExp(`\\[hitl\\] ${approver.replace(/[.]/g, '\\.')}: review (\\S+)`).exec(out.slice(at));
  return line?.[1];
}

const decide = (link: string, approved: boolean) =>
  fetch(link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved }) }).then((r) => r.status);

async function until(executionId: string, what: (e: any) => boolean, label: string) {
  let last: unknown;
  try {
    return await waitFor(label, async () => { const e = (await api(`/executions/${executionId}`)).body; last = e; return what(e) ? e : undefined; }, 60_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}; the execution was: ${JSON.stringify(last).slice(0, 3000)}`);
  }
}

it('vendor onboarding: legal and finance side by side, then one approval per invoice; a SIGKILL with three open loses nothing', async () => {
  const start = await api('/ensembles/vendor-onboarding', { vendor: 'Acme', invoices: [{ id: 'A', amount: 10 }, { id: 'B', amount: 20 }, { id: 'C', amount: 30 }] });
  expect(start.status).toBe(202);
  expect(start.body.requests.map((r: any) => r.step)).toEqual(['reviews/legal', 'reviews/finance']);
  const id = start.body.executionId;
  const legal = await waitFor('the legal link', () => linkFor(id, 'reviews/legal', 'legal@example.com'));
  const finance = await waitFor('the finance link', () => linkFor(id, 'reviews/finance', 'finance@example.com'));
  expect(await decide(legal, true)).toBe(200);
  expect(await decide(finance, true)).toBe(200);
  const three = await until(id, (e) => e.requests.length === 3, 'three invoice approvals');
  expect(three.requests.map((r: any) => r.step)).toEqual(['onboarded/per-invoice[0]/invoice-ok', 'onboarded/per-invoice[1]/invoice-ok', 'onboarded/per-invoice[2]/invoice-ok']);
  // The three invoices are announced in one message: ap@example.com's batch link reaches all three.
  const batch = await waitFor('the batch link', () => linkFor(id, 'onboarded/per-invoice[0]/invoice-ok', 'ap@example.com'));
  expect(batch).toMatch(/\/callback\/batch\//);
  const items = ((await (await fetch(batch, { headers: { accept: 'application/json' } })).json()) as any).requests;
  expect(items.map((r: any) => [r.step, r.status])).toEqual([0, 1, 2].map((i) => [`onboarded/per-invoice[${i}]/invoice-ok`, 'pending']));
  const post = async (decisions: unknown[]) => {
    const res = await fetch(batch, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decisions }) });
    return { status: res.status, body: (await res.json()) as any };
  };

  // Killed with three approvals open; started again on the same state.
  await server.stop('SIGKILL');
  server = await startDevServer({ persistTo, port, cwd: project });
  expect((await api(`/executions/${id}`)).body.requests).toHaveLength(3);
  const first = await post([{ request: items[2].request, approved: true }, { request: items[0].request, approved: false, reason: 'duplicate invoice' }]);
  expect(first.status).toBe(200);
  expect(first.body.results.map((r: any) => r.ok)).toEqual([true, true]);
  const second = await post([{ request: items[1].request, approved: true }, { request: items[0].request, approved: true }]);
  // The item decided before is refused alone; the other is decided.
  expect(second.body.results.map((r: any) => [r.ok, r.error?.code ?? null])).toEqual([[true, null], [false, 'ALREADY_DECIDED']]);
  const done = await until(id, (e) => e.status === 'completed', 'the run to complete');
  expect(done.output.legal).toBe('approved');
  // One result per invoice, in item order: the rejected one was not paid.
  expect(done.output.paid.map((p: any) => p === null ? 'not paid' : p.status)).toEqual(['not paid', 200, 200]);
  expect(server.output()).toMatch(/\[receiver\] POST \/payments\/process/);
}, 240_000);

it('a race: the first approval decides, the other request closes and its link answers 410', async () => {
  const start = await api('/ensembles/zz-race', {});
  const id = start.body.executionId;
  const veto = await waitFor('the veto link', () => linkFor(id, 'race/veto', 'finance@example.com'));
  const paid = await waitFor('the paid link', () => linkFor(id, 'race/paid', 'billing@example.com'));
  expect(await decide(veto, true)).toBe(200);
  const done = await until(id, (e) => e.status === 'completed', 'the race to end');
  expect(done.output).toEqual({ winner: 'veto' });
  expect(await decide(paid, true)).toBe(410);
}, 120_000);

it('an approval that times out with onTimeout: fail runs the catch instead of failing the run', async () => {
  const start = await api('/ensembles/zz-fallback', {});
  const done = await until(start.body.executionId, (e) => e.status !== 'suspended', 'the timeout');
  expect(done.status).toBe('completed');
  expect(done.output).toBe('HITL_TIMEOUT AT GUARDED/QUICK');
}, 120_000);
