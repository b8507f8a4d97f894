import type { Env } from '../env';
import { log } from '../log';
import { receiveEvent } from '../hitl/decisions';
import type { ExecutionStore } from '../hitl/store';
import type { ReceivedEvent } from '../hitl/machine';
import { eventBox } from './names';

// The execution's side of a wait for an event: once its request is stored, the wait is registered
// with its event box (which may hand it a kept event at once). Registering is retried by the
// object's alarm until the box has it (`register_at`), and answers the same when repeated.

const RETRY_MS = 5_000;

/**
 * Registers every open wait not registered yet. True when one of them took an event (the run is
 * due to go on).
 */
export async function registerWaits(store: ExecutionStore, env: Env, now: number): Promise<boolean> {
  if (!store.exists()) return false;
  let received = false;
  for (const request of store.waitsToRegister()) {
    const spec = request.spec.event!;
    const box = eventBox(env, spec.name, spec.key);
    const executionId = store.run()!.state.executionId;
    let answer: { event?: ReceivedEvent };
    try {
      answer = (await box.register(spec.name, spec.key, {
        executionId, requestId: request.id, step: request.step, startedAt: request.createdAt, expiresAt: request.expiresAt,
        ...(spec.lookbackMs === undefined ? {} : { lookbackMs: spec.lookbackMs }),
      })) as { event?: ReceivedEvent };
    } catch (e) {
      store.setRegisterAt(request.id, Date.now() + RETRY_MS);
      log('event-wait-register-failed', { executionId, step: request.step, error: e instanceof Error ? e.message : String(e) }, 'warn');
      continue;
    }
    // Synchronous from the answer on: the request as it is now (it may have timed out meanwhile).
    const current = store.requestById(request.id)!;
    if (current.status === 'pending') store.setRegisterAt(request.id, null);
    const event = answer.event;
    if (!event) continue;
    if (receiveEvent(store, current, event, Date.now())) {
      received = true;
      await box.confirm(event.id).catch(() => undefined);
    } else if (current.approval.received?.id !== event.id) {
      // It stopped waiting before the kept event reached it: the event goes back to the box.
      await box.release(spec.name, spec.key, event.id, executionId, request.id).catch((e) =>
        log('event-release-failed', { executionId, event: event.id, error: e instanceof Error ? e.message : String(e) }, 'warn'));
    }
  }
  return received;
}
