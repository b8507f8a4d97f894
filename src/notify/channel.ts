import type { Env } from '../env';
import type { ApprovalNotice } from './notice';

export interface ChannelContext {
  env: Env;
  /** The step's `notificationConfig` (webhookUrl, to, from, subject, ...). */
  config: Record<string, unknown>;
  /** What this channel posted for the request before (the refs its receipts returned). */
  posted: unknown[];
}

/** Where a channel posted a message it can update later (Slack app: `{channel, ts}`). */
export interface DeliveryReceipt {
  ref: unknown;
}

/**
 * A notification channel. `send` throws a NotifyError when delivery failed (it will be retried);
 * it may return a receipt of what it posted. Channels that cannot edit what they sent ignore `update`.
 */
export interface NotificationChannel {
  send(notice: ApprovalNotice, ctx: ChannelContext): Promise<DeliveryReceipt | void>;
}

export class NotifyError extends Error {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotifyError';
  }
}

/** POSTs JSON and throws a NotifyError on a network error or a non-2xx answer. */
export async function postJson(url: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(15_000) });
  } catch (cause) {
    throw new NotifyError(`POST ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, { cause });
  }
  if (!res.ok) {
    const text = (await res.text()).slice(0, 300);
    throw new NotifyError(`POST ${url} answered ${res.status}${text ? `: ${text}` : ''}`, res.status);
  }
  await res.body?.cancel();
}
