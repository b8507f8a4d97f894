import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { expect } from 'vitest';
import { appWith, auth, received } from './helpers';
import { eventually } from '../support/wait';
import type { ScriptRegistry } from '../../src/runtime/context';

export const stubOf = (executionId: string) => env.HITL_STATE.get(env.HITL_STATE.idFromName(executionId));

/** Runs the object's alarm now (deliveries due now; an expiry only once its time has passed). */
export const fireAlarm = (executionId: string) => runDurableObjectAlarm(stubOf(executionId));

export { eventually } from '../support/wait';
export { received };

/** Runs `fn` inside the execution's object, with the instance (its store, env) and its state. */
export const inObject = runInDurableObject as unknown as <T>(stub: unknown, fn: (instance: any, state: DurableObjectState) => Promise<T>) => Promise<T>;

/**
 * The run state and definition an execution's object holds, as a repeated `begin` would carry
 * them: the object keeps the waits as requests (and clears them from the state when it opens
 * them), the Worker sends them as the state's `suspensions`.
 */
export function storedRun(executionId: string): Promise<{ state: unknown; definition: { file: string; source: string; hash: string; library?: { file: string }[] } }> {
  return inObject(stubOf(executionId), async (instance, state) => {
    const run = instance.store.run();
    const waits = state.storage.sql.exec<{ step: string; spec: string }>('SELECT step, spec FROM request ORDER BY id').toArray().map((r) => ({ step: r.step, request: JSON.parse(r.spec) }));
    return { state: { ...run.state, suspensions: waits }, definition: { file: run.file, source: run.source, hash: run.hash, ...(run.library ? { library: run.library } : {}) } };
  });
}

/** The stored spec of an execution's first approval request, as the object keeps it. */
export function requestSpecOf(executionId: string): Promise<any> {
  return inObject(stubOf(executionId), async (_instance, state) => JSON.parse(String(state.storage.sql.exec('SELECT spec FROM request ORDER BY id LIMIT 1').one().spec)));
}

/** The object's `begin` RPC, called directly (as a retried or concurrent call would). */
export const beginOf = (executionId: string) => stubOf(executionId) as unknown as { begin: (definition: unknown, state: unknown) => Promise<{ pending: any; requests: any[] }> };

/** Waits until the object has written its latest version to the executions index. */
export function indexSettled(executionId: string): Promise<void> {
  return eventually(async () => {
    const v = await inObject(stubOf(executionId), async (instance) => instance.store.indexVersions());
    expect(v.indexed).toBe(v.version);
  });
}

/**
 * Waits until the receiver holds exactly `count` requests at `path` (notifications). With an
 * execution id, its alarm is run on every poll, so deliveries that are due go out.
 */
export function hitsAt(path: string, count: number, executionId?: string): Promise<any[]> {
  return eventually(async () => {
    if (executionId) await fireAlarm(executionId);
    const hits = await received(path);
    expect(hits).toHaveLength(count);
    return hits;
  });
}

/** Starts a run that must suspend (202) and delivers its first notifications; returns its id. */
export async function suspend(app: { run: (name: string, input?: unknown) => Promise<{ status: number; body: any }> }, name: string, input: unknown = {}): Promise<string> {
  const start = await app.run(name, input);
  expect(start.status).toBe(202);
  await fireAlarm(start.body.executionId);
  return start.body.executionId as string;
}

/** An app over one ensemble, with helpers for the approval loop. */
export function hitlApp(name: string, source: string, scripts: ScriptRegistry = {}) {
  const app = appWith({ [name]: source }, scripts);
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
  return {
    ...app,
    execution: async (id: string) => json(await app.request(`/executions/${id}`, { headers: auth })),
    audit: async (id: string) => (await json(await app.request(`/executions/${id}/audit`, { headers: auth }))).body.entries as any[],
    inspect: async (token: string, headers: Record<string, string> = {}) => json(await app.request(`/callback/${token}`, { headers })),
    decide: async (token: string, body: unknown) =>
      json(await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })),
    /** Waits until the run reaches `status`. */
    until: async (id: string, status: string) =>
      eventually(async () => {
        const { body } = await json(await app.request(`/executions/${id}`, { headers: auth }));
        expect(body.status).toBe(status);
        return body;
      }),
  };
}

/** The token of a link such as https://host/callback/<token>?action=approve. */
export const tokenOf = (url: string) => new URL(url).pathname.split('/').pop()!;
