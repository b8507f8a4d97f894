import { z } from 'zod';
import { findListed } from '../identity/normalize';
import { LIMITS } from '../limits';
import { decidable, pick, slackFacts, viewerMismatch } from './deciders';
import { recordDecision, type RequestMeta } from './decisions';
import { formJsonSchema } from './form';
import { hasDecided, type Decider } from './machine';
import { DecisionBody } from './request';
import { fail, ok, type Result } from './result';
import type { BatchRow, ExecutionStore, RequestRow } from './store';
import type { SlackHost } from './slack-decisions';
import { hashToken, sameHash } from './token';

// An approver's batch link (`/callback/batch/:token`): every request of a group announced together
// that lists them, on one page, decided item by item or many at once. The link is theirs as a
// personal link is (verified by possession, spent per item: the item's own link is spent with it),
// it decides nothing outside its group or for anyone else, and GET never changes anything.

/** The body of `POST /callback/batch/:token`: a decision per item; each is judged on its own. */
export const BatchBody = z.strictObject({
  decisions: z.array(z.strictObject({
    request: z.number().int().positive(),
    approved: DecisionBody.shape.approved,
    reason: DecisionBody.shape.reason,
    feedback: DecisionBody.shape.feedback,
    response: DecisionBody.shape.response,
  })).min(1).max(LIMITS.openRequests),
});
export type BatchBody = z.infer<typeof BatchBody>;

export interface BatchItemView {
  request: number;
  step: string;
  prompt: string;
  data: unknown;
  format: string;
  metadata: Record<string, unknown>;
  status: string;
  expiresAt: string;
  /** Whether this approver can still decide it (open, not decided by them, still theirs). */
  decidable: boolean;
  /** Their own decision, once made. */
  decided: { approved: boolean; at: string } | null;
  requestedSchema: Record<string, unknown> | null;
}

export interface BatchView {
  executionId: string;
  ensemble: string;
  approver: string;
  /** The signed-in Cloudflare Access identity, when the request carried a valid assertion. */
  viewer: string | null;
  requests: BatchItemView[];
}

export interface BatchResult {
  executionId: string;
  approver: string;
  results: { request: number; step: string | null; ok: boolean; status?: string; approved?: boolean; error?: { code: string; status: number; message: string } }[];
}

function find(store: ExecutionStore, token: string): BatchRow | undefined {
  if (!store.exists()) return undefined;
  const hash = hashToken(token);
  const row = store.batchByHash(hash);
  return row && sameHash(row.hash, hash) ? row : undefined;
}

/** The requests a batch link reaches: its group's that list (or were decided by) its approver. */
function itemsOf(store: ExecutionStore, batch: BatchRow): RequestRow[] {
  return store.requestsInGroup(batch.grp).filter((r) => findListed(r.approval.approvers, [batch.approver]) !== undefined || hasDecided(r.approval.approvals, batch.approver));
}

export function batchView(store: ExecutionStore, token: string, viewer?: string): Result<BatchView> {
  const batch = find(store, token);
  if (!batch) return fail('NOT_FOUND', 404, 'unknown or invalid link');
  const run = store.run()!;
  const now = Date.now();
  const requests = itemsOf(store, batch).map((r): BatchItemView => {
    const mine = r.approval.approvals.find((a) => hasDecided([a], batch.approver, true));
    return {
      request: r.id,
      step: r.step,
      prompt: r.spec.prompt,
      data: r.spec.data,
      format: r.spec.format,
      metadata: r.spec.metadata ?? {},
      status: r.approval.status,
      expiresAt: new Date(r.expiresAt).toISOString(),
      decidable: decidable(r, now) && !mine && findListed(r.approval.approvers, [batch.approver]) !== undefined,
      decided: mine ? { approved: mine.approved, at: mine.timestamp } : null,
      requestedSchema: r.spec.form ? formJsonSchema(r.spec.form) : null,
    };
  });
  return ok({ executionId: run.state.executionId, ensemble: run.state.ensemble, approver: batch.approver, viewer: viewer ?? null, requests });
}

/**
 * Decides the items of a batch, each on its own: an item outside the link's group, refused by the
 * machine (already decided, expired, not theirs any more) or with invalid form answers fails
 * alone, and the others are decided. Each item is claimed synchronously, as a single decision is:
 * concurrent or repeated posts decide each item once.
 */
export async function decideBatch(host: SlackHost, token: string, body: BatchBody, meta: RequestMeta, viewer?: string): Promise<Result<BatchResult>> {
  const { store, env } = host;
  const batch = find(store, token);
  if (!batch) return fail('NOT_FOUND', 404, 'unknown or invalid link');
  const decider: Decider = { name: batch.approver, verified: true, via: 'link' };
  const mismatch = viewerMismatch(decider, viewer);
  if (mismatch) return mismatch;
  const results: BatchResult['results'] = [];
  let due: number | undefined;
  for (const d of body.decisions) {
    let request = store.requestById(d.request);
    if (!request || request.grp !== batch.grp) {
      results.push({ request: d.request, step: null, ok: false, error: { code: 'NOT_IN_BATCH', status: 404, message: 'this link does not reach that request' } });
      continue;
    }
    // What Slack knows of the people involved is asked before the synchronous claim, as for one decision.
    const facts = decidable(request) ? await slackFacts(env, request, decider) : { decider };
    // The owner's email learned from Slack is compared with who Access says is here, as for a personal link.
    const forwarded = viewerMismatch({ ...decider, ...pick(facts.decider) }, viewer);
    if (forwarded && !forwarded.ok) {
      results.push({ request: d.request, step: request.step, ok: false, error: { code: forwarded.error.code, status: forwarded.error.status, message: forwarded.error.message } });
      continue;
    }
    request = store.requestById(d.request)!;
    // The item's own personal link is spent with it: the decision is made once, whichever link.
    const personal = store.personalToken(request.id, batch.approver);
    const spends = personal && personal.usedAt === null ? personal.hash : undefined;
    const { result, due: itemDue } = recordDecision(store, store.run()!.state, request, { ...decider, ...pick(facts.decider) }, { approved: d.approved, reason: d.reason, feedback: d.feedback, response: d.response }, meta, Date.now(), facts.requester, spends);
    if (itemDue !== undefined) due = Math.min(due ?? itemDue, itemDue);
    results.push(result.ok
      ? { request: d.request, step: request.step, ok: true, status: result.value.status, approved: d.approved }
      : { request: d.request, step: request.step, ok: false, error: { code: result.error.code, status: result.error.status, message: result.error.message } });
  }
  await host.answerNow(due);
  return ok({ executionId: store.run()!.state.executionId, approver: batch.approver, results });
}
