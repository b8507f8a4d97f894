import type { ApprovalStatus } from '../hitl/machine';
import type { Approval, DataFormat } from '../hitl/request';

/** Links of one token: the review page, and the page with a choice preselected (never decides). */
export interface ApprovalLinks {
  approver?: string;
  callbackUrl: string;
  approveUrl: string;
  rejectUrl: string;
}

/**
 * Everything a channel needs to ask people for a decision. `update` re-renders messages a channel
 * posted earlier (Slack app) after a decision or when the request closes.
 */
export interface ApprovalNotice {
  kind: 'request' | 'reminder' | 'escalation' | 'delegation' | 'update';
  executionId: string;
  /** The approval request within the execution (Slack buttons refer to it). */
  requestId: number;
  /** The request's status and decisions when the notice was built. */
  status: ApprovalStatus;
  approvals: Approval[];
  ensemble: string;
  step: string;
  prompt: string;
  data: unknown;
  /** How the data is meant to be read (`format:` of the step). */
  format?: DataFormat;
  metadata?: Record<string, unknown>;
  approvers: string[];
  minApprovals: number;
  /** Epoch milliseconds (as in spec 004's webhook payload). */
  expiresAt: number;
  /** For channels that post once (Slack, webhook): whoever clicks states a name. */
  shared?: ApprovalLinks;
  /** One per approver, identity bound. */
  personal: ApprovalLinks[];
  /** The approver's inbox, when Cloudflare Access is configured (every request waiting on them). */
  inboxUrl?: string;
  /**
   * Several requests announced together: `personal` are then each approver's batch link (one page
   * for all their items), `data` the summary of the items, `requestId` the group's.
   */
  batch?: { count: number; items: BatchItem[]; truncated: number };
}

/** One request of a batch as a message summarises it: its step, question and key fields. */
export interface BatchItem {
  step: string;
  prompt: string;
  [field: string]: unknown;
}

/** What a notice is about, as a heading ("Handed to you: approval needed"). */
export function noticeHeading(kind: ApprovalNotice['kind']): string {
  switch (kind) {
    case 'reminder': return 'Reminder: your approval is still needed';
    case 'escalation': return 'Escalated: your approval is needed';
    case 'delegation': return 'Handed to you: your approval is needed';
    default: return 'Your approval is needed';
  }
}

export function linksFor(baseUrl: string, basePath: string, token: string, approver?: string): ApprovalLinks {
  const callbackUrl = `${baseUrl}${basePath}/${token}`;
  return {
    ...(approver === undefined ? {} : { approver }),
    callbackUrl,
    approveUrl: `${callbackUrl}?action=approve`,
    rejectUrl: `${callbackUrl}?action=reject`,
  };
}

/** `HITL_BASE_PATH` normalised: leading slash, no trailing slash, default `/callback`. */
export function basePath(value: unknown): string {
  const raw = typeof value === 'string' && value.trim() ? value.trim() : '/callback';
  return `/${raw.replace(/^\/+|\/+$/g, '')}`;
}
