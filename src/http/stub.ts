import type { Env } from '../env';
import { NotFoundError } from '../errors';
import { tokenExecution } from '../hitl/token';

const EXECUTION_ID = /^exe_[0-9a-f]{32}$/;

/** The HITL object of an execution id; 404 for anything that is not one (no object is touched). */
export function executionStub(env: Env, executionId: string) {
  if (!EXECUTION_ID.test(executionId)) throw new NotFoundError('execution');
  return env.HITL_STATE.get(env.HITL_STATE.idFromName(executionId));
}

/** The HITL object a callback token routes to, read from the token itself (no lookup). */
export function tokenStub(env: Env, token: string) {
  const executionId = tokenExecution(token);
  if (!executionId) throw new NotFoundError('approval link', { hint: 'unknown or invalid link' });
  return env.HITL_STATE.get(env.HITL_STATE.idFromName(executionId));
}
