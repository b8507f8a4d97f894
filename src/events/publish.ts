import type { Env } from '../env';
import { AppError } from '../errors';
import { unwrap, type Result } from '../hitl/result';
import { digestToken } from '../hitl/token';
import { LIMITS } from '../limits';
import { canonicalJson } from '../runtime/canonical-json';
import { runSecrets } from '../runtime/env-secrets';
import { redact } from '../secrets';
import type { Published } from './event-box';
import { EVENT_NAME, EVENT_NAME_RULE, eventBox, keyProblem, keyText, lookbackMs } from './names';

// An event arriving, from `POST /events/:name` or from a webhook that emits: checked here (name,
// key, id, size), then handed to its event box, which offers it to the waits or keeps it.

export interface EventSource {
  /** The sender's id for this event (a delivery id, an Idempotency-Key): a redelivery changes nothing. */
  id?: string;
  /** `api`, or `webhook:<path>`. */
  source: string;
}

/** Sends an event to its box; the box's answer (who took it, or until when it is kept). */
export async function publishEvent(env: Env, name: string, key: unknown, data: unknown, from: EventSource): Promise<Published> {
  if (!EVENT_NAME.test(name)) throw new AppError('INVALID_EVENT_NAME', `'${name.slice(0, 80)}' is not an event name: ${EVENT_NAME_RULE}`, 400);
  const problem = keyProblem(key);
  if (problem) throw new AppError('INVALID_EVENT_KEY', problem, 400);
  if (from.id !== undefined && (from.id.length === 0 || from.id.length > LIMITS.idempotencyKeyChars || !/^[\x21-\x7e]+$/.test(from.id))) {
    throw new AppError('INVALID_EVENT_ID', `an event id is 1 to ${LIMITS.idempotencyKeyChars} printable ASCII characters`, 400);
  }
  // The data becomes a step's output: no value of this deployment's secrets goes in with it.
  const text = JSON.stringify(redact(data === undefined ? null : data, runSecrets(env)));
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > LIMITS.eventDataBytes) throw new AppError('PAYLOAD_TOO_LARGE', `the event's data takes ${bytes} bytes as JSON (limit ${LIMITS.eventDataBytes})`, 413);
  const k = keyText(key as string | number);
  // A redelivery is the same data however its keys are ordered.
  const bodyHash = await digestToken(canonicalJson(data ?? null));
  // An id is given back in the step's output: one that holds a secret is replaced by its digest.
  const given = from.id === undefined ? undefined : redact(from.id, runSecrets(env)) === from.id ? from.id : `evt_${(await digestToken(from.id)).slice(0, 32)}`;
  const id = given ?? `evt_${crypto.randomUUID()}`;
  const result = (await eventBox(env, name, k).publish(name, k, { id, data: text, bodyHash, source: from.source }, lookbackMs(env))) as Result<Published>;
  return unwrap(result);
}
