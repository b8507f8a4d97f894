import type { Env } from '../env';
import { channels } from '../notify/registry';
import { isEmail, mailConfigured } from '../notify/mailchannels';
import { basePath, linksFor, type ApprovalNotice } from '../notify/notice';
import { sameIdentity } from '../identity/normalize';
import { hasDecided } from './machine';
import { log } from '../log';
import type { Channel } from './request';
import { unseal } from './seal';
import type { ExecutionStore, OutboxRow, RequestRow } from './store';
import { accessConfig } from '../identity/access';
import { notificationSettings } from './credentials';

/** The open request's tokens, as sealed in `request.sealed`. */
export interface SealedTokens {
  personal: { approver: string; token: string }[];
  shared?: string;
}

const MAX_ATTEMPTS = 6;

/** Which channels a request is sent to when the step names none (DESIGN §6). */
export function defaultChannels(approvers: string[], env: Env): Channel[] {
  if (approvers.some(isEmail) && mailConfigured(env)) return ['email'];
  return ['console'];
}

/** Who a notification of `kind` is for: everyone, the undecided (reminder), or the listed (escalation). */
function recipientsOf(request: RequestRow, kind: ApprovalNotice['kind'], listed: string[] | null): (approver: string) => boolean {
  if (listed) return (a) => listed.some((l) => sameIdentity(l, a));
  // Only people who hold a place now: someone who handed theirs on gets nothing more.
  const holds = (a: string) => request.approval.approvers.some((b) => sameIdentity(a, b));
  // A typed name does not count as that person having decided: they are still reminded.
  if (kind === 'reminder') return (a) => holds(a) && !hasDecided(request.approval.approvals, a, true);
  return holds;
}

export function buildNotice(request: RequestRow, tokens: SealedTokens, ensemble: string, executionId: string, env: Env, kind: ApprovalNotice['kind'], listed: string[] | null = null): ApprovalNotice {
  const prefix = basePath(env.HITL_BASE_PATH);
  const { spec } = request;
  const include = recipientsOf(request, kind, listed);
  return {
    kind,
    executionId,
    requestId: request.id,
    status: request.approval.status,
    approvals: request.approval.approvals,
    ensemble,
    step: spec.step,
    prompt: spec.prompt,
    data: spec.data,
    format: spec.format,
    metadata: spec.metadata,
    approvers: request.approval.approvers,
    minApprovals: spec.minApprovals,
    expiresAt: request.expiresAt,
    personal: tokens.personal.filter((t) => include(t.approver)).map((t) => linksFor(spec.baseUrl, prefix, t.token, t.approver)),
    // Behind Cloudflare Access every approver has an inbox of what waits on them.
    ...(accessConfig(env) ? { inboxUrl: `${spec.baseUrl}/inbox` } : {}),
    ...(tokens.shared ? { shared: linksFor(spec.baseUrl, prefix, tokens.shared) } : {}),
  };
}

/**
 * A channel gave up: the same notification goes to `notificationConfig.fallback` (default console),
 * unless that is the channel that failed, a fallback itself, or `none`. The links are then still
 * somewhere an operator can find them, and `POST /executions/:id/notify` can try again.
 */
function fallBack(store: ExecutionStore, request: RequestRow, row: OutboxRow): void {
  const fallback = request.spec.notification.fallback ?? 'console';
  if (fallback === 'none' || fallback === row.channel || row.fallbackFor) return;
  store.enqueue(request.id, fallback, row.kind, Date.now(), row.recipients, row.channel);
  store.audit('notify-fallback', { failed: row.channel, kind: row.kind, to: fallback }, Date.now(), request.id);
}

/**
 * Sends every due notification. A failure is audited and retried with exponential backoff
 * (HITL_NOTIFY_BACKOFF_MS, default 5s, doubling; 6 attempts); it never touches the approval itself.
 */
export async function deliverDue(store: ExecutionStore, env: Env, executionId: string, ensemble: string, now: number): Promise<void> {
  const backoff = Number(env.HITL_NOTIFY_BACKOFF_MS ?? 5000) || 5000;
  for (const row of store.dueOutbox(now)) {
    if (!store.claimOutbox(row.id, Date.now())) continue;
    await deliverOne(store, env, executionId, ensemble, row, backoff);
  }
}

async function deliverOne(store: ExecutionStore, env: Env, executionId: string, ensemble: string, row: OutboxRow, backoff: number): Promise<void> {
  const request = store.requestById(row.requestId);
  // Updates re-render what was posted, also once the request closed; anything else needs it open.
  const update = row.kind === 'update';
  if (!request || (!update && (request.status !== 'pending' || !request.sealed))) {
    store.outboxResult(row.id, 'dropped', row.attempts, row.nextAt, 'request no longer pending');
    return;
  }
  const attempt = row.attempts + 1;
  const channel = channels[row.channel as Channel];
  try {
    if (!channel) throw new Error(`notification channel '${row.channel}' is not available`);
    // An update carries no links: buttons of a Slack app message are not bearer links.
    const tokens = update ? { personal: [] } : await unseal<SealedTokens>(env, executionId, request.sealed!);
    const notice = buildNotice(request, tokens, ensemble, executionId, env, row.kind as ApprovalNotice['kind'], row.recipients);
    const receipt = await channel.send(notice, { env, config: notificationSettings(request.spec, env), posted: store.messages(request.id, row.channel) });
    if (receipt) store.insertMessage(request.id, row.channel, receipt.ref);
    store.outboxResult(row.id, 'sent', attempt, row.nextAt);
    // What was just posted or updated shows the request as it was when this began: if a decision
    // (or the close) landed meanwhile, the messages are rendered again.
    const latest = store.requestById(request.id)!;
    if ((receipt || update) && JSON.stringify(latest.approval) !== JSON.stringify(request.approval) && !store.updatePending(request.id)) {
      store.enqueue(request.id, row.channel, 'update', Date.now());
    }
    store.audit('notified', { channel: row.channel, kind: row.kind, attempt }, Date.now(), request.id);
    log('notification', { executionId, channel: row.channel, kind: row.kind, attempt, ok: true });
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    const giveUp = attempt >= MAX_ATTEMPTS;
    const nextAt = Date.now() + backoff * 2 ** (attempt - 1);
    store.outboxResult(row.id, giveUp ? 'failed' : 'pending', attempt, nextAt, error);
    store.audit('notify-failed', { channel: row.channel, kind: row.kind, attempt, error, ...(giveUp ? { gaveUp: true } : { retryAt: new Date(nextAt).toISOString() }) }, Date.now(), request.id);
    log('notification', { executionId, channel: row.channel, kind: row.kind, attempt, ok: false, gaveUp: giveUp }, 'warn');
    if (giveUp && !update) fallBack(store, request, row);
  }
}
