import type { Env } from '../env';
import { channels } from '../notify/registry';
import { isEmail, mailConfigured } from '../notify/mailchannels';
import { basePath, linksFor, type ApprovalNotice, type BatchItem } from '../notify/notice';
import { sameIdentity } from '../identity/normalize';
import { hasDecided } from './machine';
import { log } from '../log';
import type { Channel } from './request';
import { seal, unseal } from './seal';
import { hashToken, newToken } from './token';
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
  // Under the row's own id: a group's message falls back as the group's.
  store.enqueue(row.requestId, fallback, row.kind, Date.now(), row.recipients, row.channel);
  store.audit('notify-fallback', { failed: row.channel, kind: row.kind, to: fallback }, Date.now(), request.id);
}

/**
 * A delivery failed: audited (on `request`), retried with exponential backoff, and once retries
 * give up, sent to the fallback channel (`fallBack`), unless it was an update of posted messages.
 */
function failed(store: ExecutionStore, executionId: string, request: RequestRow, row: OutboxRow, e: unknown, attempt: number, backoff: number): void {
  const error = e instanceof Error ? e.message : String(e);
  const giveUp = attempt >= MAX_ATTEMPTS;
  const nextAt = Date.now() + backoff * 2 ** (attempt - 1);
  store.outboxResult(row.id, giveUp ? 'failed' : 'pending', attempt, nextAt, error);
  store.audit('notify-failed', { channel: row.channel, kind: row.kind, attempt, error, ...(giveUp ? { gaveUp: true } : { retryAt: new Date(nextAt).toISOString() }) }, Date.now(), request.id);
  log('notification', { executionId, channel: row.channel, kind: row.kind, attempt, ok: false, gaveUp: giveUp }, 'warn');
  if (giveUp && row.kind !== 'update') fallBack(store, request, row);
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
  if (row.kind.startsWith('batch-')) return deliverBatch(store, env, executionId, ensemble, row, backoff);
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
    failed(store, executionId, request, row, e, attempt, backoff);
  }
}

/** Items a batch message lists (the rest are counted); fields of each item's data shown, and their length. */
const BATCH_ITEMS = 50;
const ITEM_FIELDS = 4;
const FIELD_CHARS = 80;

const cut = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** A request's line in a batch message: its step, its question, and the first few scalar fields of its data. */
export function batchItem(request: RequestRow): BatchItem {
  const { data } = request.spec;
  const fields: Record<string, unknown> = {};
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, v] of Object.entries(data).slice(0, ITEM_FIELDS * 2)) {
      if (Object.keys(fields).length >= ITEM_FIELDS) break;
      if (v === null || typeof v === 'object') continue;
      fields[cut(k, 40)] = typeof v === 'string' ? cut(v, FIELD_CHARS) : v;
    }
  } else if (data !== null && data !== undefined) {
    fields.value = typeof data === 'string' ? cut(data, FIELD_CHARS) : typeof data === 'object' ? cut(JSON.stringify(data), FIELD_CHARS) : data;
  }
  return { step: request.step, prompt: cut(request.spec.prompt, 120), ...fields };
}

/**
 * Sends one message for a group of requests: a summary of the items still pending and each
 * recipient's batch link (made on first use, stored hashed and kept sealed for re-sending).
 */
async function deliverBatch(store: ExecutionStore, env: Env, executionId: string, ensemble: string, row: OutboxRow, backoff: number): Promise<void> {
  const kind = row.kind.slice('batch-'.length) as ApprovalNotice['kind'];
  const pending = store.requestsInGroup(row.requestId).filter((r) => r.status === 'pending');
  if (pending.length === 0) {
    store.outboxResult(row.id, 'dropped', row.attempts, row.nextAt, 'no request of the group is pending');
    return;
  }
  const attempt = row.attempts + 1;
  const first = pending[0]!;
  try {
    const channel = channels[row.channel as Channel];
    if (!channel) throw new Error(`notification channel '${row.channel}' is not available`);
    // Everyone who holds a place in at least one pending item and is meant by this kind.
    const people: string[] = [];
    for (const r of pending) {
      const include = recipientsOf(r, kind, row.recipients);
      for (const a of r.approval.approvers) if (include(a) && !people.some((p) => sameIdentity(p, a))) people.push(a);
    }
    if (people.length === 0) {
      store.outboxResult(row.id, 'dropped', row.attempts, row.nextAt, 'nobody left to tell');
      return;
    }
    const prefix = `${basePath(env.HITL_BASE_PATH)}/batch`;
    const personal = [];
    for (const approver of people) personal.push(linksFor(first.spec.baseUrl, prefix, await batchToken(store, env, executionId, row.requestId, approver), approver));
    const items = pending.map(batchItem);
    const notice: ApprovalNotice = {
      kind,
      executionId,
      requestId: row.requestId,
      status: 'pending',
      approvals: [],
      ensemble,
      step: first.step,
      prompt: pending.every((r) => r.spec.prompt === first.spec.prompt) ? `${pending.length} requests: ${first.spec.prompt}` : `${pending.length} requests wait for a decision`,
      data: items.slice(0, BATCH_ITEMS),
      format: 'auto',
      approvers: people,
      minApprovals: first.spec.minApprovals,
      expiresAt: Math.min(...pending.map((r) => r.expiresAt)),
      personal,
      ...(accessConfig(env) ? { inboxUrl: `${first.spec.baseUrl}/inbox` } : {}),
      batch: { count: pending.length, items: items.slice(0, BATCH_ITEMS), truncated: Math.max(0, items.length - BATCH_ITEMS) },
    };
    await channel.send(notice, { env, config: notificationSettings(first.spec, env), posted: [] });
    store.outboxResult(row.id, 'sent', attempt, row.nextAt);
    store.audit('notified', { channel: row.channel, kind: row.kind, attempt, requests: pending.length, to: people }, Date.now(), first.id);
    log('notification', { executionId, channel: row.channel, kind: row.kind, attempt, ok: true, requests: pending.length });
  } catch (e) {
    failed(store, executionId, first, row, e, attempt, backoff);
  }
}

/** An approver's batch token for a group: the stored one (unsealed), or a new one stored now. */
async function batchToken(store: ExecutionStore, env: Env, executionId: string, grp: number, approver: string): Promise<string> {
  const known = store.batchOf(grp, approver);
  if (known) return (await unseal<{ token: string }>(env, executionId, known.sealed)).token;
  const token = newToken(executionId);
  const sealed = await seal(env, executionId, { token });
  const stored = store.insertBatch(hashToken(token), grp, approver, sealed, Date.now());
  // Another delivery stored one meanwhile: that one is the approver's link.
  return stored.hash === hashToken(token) ? token : (await unseal<{ token: string }>(env, executionId, stored.sealed)).token;
}
