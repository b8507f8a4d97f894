import type { Context } from 'hono';

/** The request's `waitUntil`, or undefined where no execution context exists (an app called directly). */
export function waitUntilOf(c: Context): ((work: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx as ExecutionContext;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}
