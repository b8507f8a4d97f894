import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { expect } from 'vitest';
import { createApp } from '../../src/http/app';
import { auth, received } from './helpers';
import { eventually, stubOf } from './hitl-helpers';

const app = createApp();
const call = async (path: string, init: RequestInit = {}) => {
  const res = await app.fetch(new Request(`http://worker.test${path}`, init), env);
  return { status: res.status, body: (await res.json()) as any };
};

/** Runs a bundled ensemble (ensembles/) through the real Worker app. */
export const runEnsemble = (name: string, input: unknown) =>
  call(`/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(input) });

export const execution = async (id: string) => (await call(`/executions/${id}`, { headers: auth })).body;

/** Every request the receiver got that mentions the execution (its notifications). */
export async function notificationsOf(id: string): Promise<any[]> {
  const all = (await (await fetch(`${env.RECEIVER}/_received`)).json()) as any[];
  return all.filter((r) => r.body.includes(id));
}

/** The distinct callback tokens in the notifications of an execution. */
export async function tokensOf(id: string): Promise<string[]> {
  const found = new Set<string>();
  for (const r of await notificationsOf(id)) for (const m of r.body.matchAll(new RegExp(`/callback/(${id}\\.[A-Za-z0-9_-]{32})`, 'g'))) found.add(m[1]);
  return [...found];
}

/** Makes the open request due now (as if its timeout passed) and runs the alarm. */
export async function expireNow(id: string): Promise<void> {
  await runInDurableObject(stubOf(id), async (_i, state) => {
    const row = state.storage.sql.exec<{ id: number; approval: string }>("SELECT id, approval FROM request WHERE status = 'pending'").toArray()[0]!;
    const approval = JSON.parse(row.approval);
    approval.expiresAt = Date.now() - 1;
    state.storage.sql.exec('UPDATE request SET approval = ?, expires_at = ? WHERE id = ?', JSON.stringify(approval), approval.expiresAt, row.id);
  });
  await runDurableObjectAlarm(stubOf(id));
}

export type Path = 'approve' | 'reject' | 'timeout';

/**
 * Drives a suspended execution down one path using only what approvers receive: the links in its
 * notifications (approving with as many distinct people as the quorum needs). Returns the run once
 * it has left the suspended step.
 */
export async function decide(id: string, path: Path): Promise<any> {
  const step = (await execution(id)).pending.step;
  await runDurableObjectAlarm(stubOf(id));
  const tokens = await eventually(async () => {
    const t = await tokensOf(id);
    expect(t.length).toBeGreaterThan(0);
    return t;
  });
  if (path === 'timeout') {
    await expireNow(id);
  } else {
    let n = 0;
    for (const token of tokens) {
      const meta = (await call(`/callback/${token}`)).body;
      if (meta.status !== 'pending') break;
      const body = path === 'approve'
        ? { approved: true, approver: meta.approver ?? `reviewer-${n++}@example.com`, feedback: 'fine' }
        : { approved: false, approver: meta.approver ?? 'reviewer@example.com', reason: 'not now', feedback: 'try again' };
      const res = await call(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      if (path === 'reject' || res.body.status !== 'pending') break;
    }
  }
  return eventually(async () => {
    const e = await execution(id);
    expect(['completed', 'failed'].includes(e.status) || (e.status === 'suspended' && e.pending.step !== step)).toBe(true);
    return e;
  });
}

export const stepOf = (e: any, name: string) => e.steps.find((s: any) => s.name === name);
/** What the receiver got at `path`, only what mentions `id` when given. */
export const receivedAt = async (path: string, id?: string) => (await received(path)).filter((r) => !id || r.body.includes(id));
