import type { Env } from '../env';
import { log } from '../log';
import { receiveEvent } from '../hitl/decisions';
import type { ExecutionStore, RequestRow } from '../hitl/store';
import type { ReceivedEvent } from '../hitl/machine';
import { eventBox } from './names';

// The execution's side of a wait for an event: once its request is stored, the wait is registered
// with its event box (which may hand it a kept event at once). `register_at` says it is still to
// do, and stays set until the box has the final word: a wait that ends (timeout, cancel, its flow)
// before that is unregistered instead, so a kept event the box handed it, whose answer never
// arrived, goes back. Both are retried by the object's alarm and answer the same when repeated.

const RETRY_MS = 5_000;

/**
 * Registers every open wait not registered yet, and unregisters every wait that ended before its
 * registration was settled. True when one of them took an event (the run is due to go on).
 */
export async function registerWaits(store: ExecutionStore, env: Env, now: number): Promise<boolean> {
  if (!store.exists()) return false;
  let received = false;
  for (const request of store.waitsToRegister()) {
    const executionId = store.run()!.state.executionId;
    try {
      if (request.status !== 'pending') await unregister(store, env, executionId, request);
      else received = (await register(store, env, executionId, request)) || received;
    } catch (e) {
      store.setRegisterAt(request.id, Date.now() + RETRY_MS);
      log('event-wait-register-failed', { executionId, step: request.step, error: e instanceof Error ? e.message : String(e) }, 'warn');
    }
  }
  return received;
}

async function register(store: ExecutionStore, env: Env, executionId: string, request: RequestRow): Promise<boolean> {
  const spec = request.spec.event!;
  const box = eventBox(env, spec.name, spec.key);
  const answer = (await box.register(spec.name, spec.key, {
    executionId, requestId: request.id, step: request.step, startedAt: request.createdAt, expiresAt: request.expiresAt,
    ...(spec.lookbackMs === undefined ? {} : { lookbackMs: spec.lookbackMs }),
  })) as { event?: ReceivedEvent };
  // Synchronous from the answer on: the request as it is now (it may have ended meanwhile).
  const current = store.requestById(request.id)!;
  const event = answer.event;
  if (current.status !== 'pending') {
    // It ended while the box answered: whatever it was handed goes back (next pass, or the alarm).
    return false;
  }
  store.setRegisterAt(request.id, null);
  if (!event || !receiveEvent(store, current, event, Date.now())) return false;
  await box.confirm(event.id).catch(() => undefined);
  return true;
}

async function unregister(store: ExecutionStore, env: Env, executionId: string, request: RequestRow): Promise<void> {
  const spec = request.spec.event!;
  await eventBox(env, spec.name, spec.key).unregister(spec.name, spec.key, executionId, request.id);
  store.setRegisterAt(request.id, null);
}
