import { hasDecided } from '../hitl/machine';
import type { RequestRow, RunRow } from '../hitl/store';
import type { RunState } from '../runtime/run-state';
import { utf8Length } from '../limits';
import type { IndexRow } from './index-store';

/** The index row of an execution its Durable Object holds: status, and who the open request waits on. */
export function rowOfObject(run: RunRow, open: RequestRow | undefined, version: number): IndexRow {
  const s = run.state;
  return {
    id: s.executionId,
    ensemble: s.ensemble,
    status: s.status,
    createdAt: Date.parse(s.startedAt) || run.createdAt,
    updatedAt: run.updatedAt,
    version,
    ...(open && s.status === 'suspended'
      ? {
        pending: {
          step: open.step,
          approvers: open.approval.approvers.filter((a) => !hasDecided(open.approval.approvals, a, true)),
          expiresAt: open.expiresAt,
          requestedAt: open.createdAt,
        },
      }
      : {}),
  };
}

/** The most a summary of a run that never suspended takes in the index; beyond, steps keep only their status. */
const SUMMARY_BYTES = 512 * 1024;
/**
 * The most one row takes as it is sent: rows travel inside one JSON string (src/executions/
 * flat-runs.ts), where every `"` and `\` of a summary is escaped again, and D1 takes strings of up
 * to 2,000,000 bytes. A row over this keeps only names, statuses and error codes.
 */
export const ROW_BYTES = 1_000_000;
/** How much of an error message the smallest summary keeps. */
const MESSAGE_CHARS = 1_000;

/**
 * The index row of a run that ended in the Worker without suspending (nothing else stores it), as
 * the JSON that is sent: at most ROW_BYTES, whatever the run produced.
 */
export function flatRowJson(state: RunState, now: number): string {
  const error = state.error ? { error: state.error } : {};
  let summary = JSON.stringify({ input: state.input, output: state.output ?? null, steps: state.steps, ...error });
  if (utf8Length(summary) > SUMMARY_BYTES) {
    summary = JSON.stringify({ input: null, output: null, steps: state.steps.map(({ input: _i, output: _o, ...rest }) => rest), ...error, truncated: true });
  }
  const row = (text: string) => JSON.stringify({ id: state.executionId, ensemble: state.ensemble, status: state.status, createdAt: Date.parse(state.startedAt), updatedAt: now, summary: text });
  let json = row(summary);
  if (utf8Length(json) > ROW_BYTES) {
    // What is left can only grow with the number of steps (each name is short): the run's outcome
    // and where it failed are kept, its data and long messages are not.
    const cut = (m: string) => (m.length > MESSAGE_CHARS ? `${m.slice(0, MESSAGE_CHARS)}…` : m);
    json = row(JSON.stringify({
      input: null,
      output: null,
      steps: state.steps.map((r) => ({ name: r.name, status: r.status, startedAt: r.startedAt, durationMs: r.durationMs, ...(r.error ? { error: { code: r.error.code, message: cut(r.error.message) } } : {}) })),
      ...(state.error ? { error: { ...state.error, message: cut(state.error.message) } } : {}),
      truncated: true,
    }));
  }
  // Thousands of failed steps (a 256 KiB file can hold them): only the run's own outcome.
  if (utf8Length(json) > ROW_BYTES) json = row(JSON.stringify({ input: null, output: null, steps: [], ...(state.error ? { error: { ...state.error, message: state.error.message.slice(0, MESSAGE_CHARS) } } : {}), truncated: true }));
  return json;
}
