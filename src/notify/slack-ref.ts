import { EXECUTION_ID_SOURCE } from '../runtime/execution-id';

// What a Slack app button carries: which request of which execution it is about. It is a
// reference, not a credential: only a request signed by Slack, for the clicking user, can use it.
const VALUE = new RegExp(`^hitl:(${EXECUTION_ID_SOURCE}):(\\d{1,9})$`);

export const actionValue = (executionId: string, requestId: number) => `hitl:${executionId}:${requestId}`;

export function parseActionValue(value: unknown): { executionId: string; requestId: number } | undefined {
  const m = typeof value === 'string' ? VALUE.exec(value) : null;
  return m ? { executionId: m[1]!, requestId: Number(m[2]) } : undefined;
}
