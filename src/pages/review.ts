import type { Context } from 'hono';
import { html } from 'hono/html';
import type { AppError } from '../errors';
import type { DecisionView } from '../hitl/hitl-state';
import type { TokenView } from '../hitl/views';
import { prettyJson, relativeTime } from '../notify/escape';
import { findListed, sameIdentity } from '../identity/normalize';
import { page, type PageStatus } from './layout';

const VIA: Record<string, string> = { link: 'personal link', shared: 'typed name, not verified', slack: 'Slack', access: 'Cloudflare Access' };

function decisions(view: TokenView) {
  if (view.approvals.length === 0) return html`<p class="muted">No decisions yet.</p>`;
  return html`<table><thead><tr><th>Approver</th><th>Decision</th><th>When</th><th>Feedback</th></tr></thead><tbody>
${view.approvals.map((a) => html`<tr><td>${a.approver} <span class="muted">(${a.via ? VIA[a.via] : a.verified ? 'verified' : 'stated'})</span></td><td>${a.approved ? 'Approved' : 'Rejected'}</td><td>${a.timestamp}</td><td>${a.reason ? html`<strong>${a.reason}</strong> ` : ''}${a.feedback ?? ''}</td></tr>`)}
</tbody></table>`;
}

function form(view: TokenView, preselect?: 'approve' | 'reject') {
  const chosen = (which: 'approve' | 'reject') => (preselect === which ? ' chosen' : '');
  return html`<form method="post">
${preselect ? html`<p class="note">You opened the <strong>${preselect}</strong> link. Nothing is recorded until you press a button below.</p>` : ''}
${view.approver
    ? html`<p>Deciding as <strong>${view.approver}</strong>.</p>`
    : view.viewer
      ? html`<p>Deciding as <strong>${view.viewer}</strong> (signed in with Cloudflare Access).</p>`
      : html`<label for="approver">Your name or email</label><input type="text" id="approver" name="approver" required maxlength="320" autocomplete="email">
<p class="muted">A typed name is recorded as not verified, and this link accepts one decision.</p>`}
<label for="feedback">Feedback <span class="muted">(optional)</span></label><textarea id="feedback" name="feedback" rows="3" maxlength="10000"></textarea>
<label for="reason">Reason for rejecting <span class="muted">(optional)</span></label><input type="text" id="reason" name="reason" maxlength="10000">
<div class="actions">
<button type="submit" class="approve${chosen('approve')}" name="approved" value="true">Approve</button>
<button type="submit" class="reject${chosen('reject')}" name="approved" value="false">Reject</button>
</div></form>`;
}

/** Why whoever opened this link cannot decide through it, if they cannot (checked again on POST). */
function barred(view: TokenView): string | undefined {
  const who = view.approver ?? view.viewer;
  if (view.approver && view.viewer && !sameIdentity(view.approver, view.viewer)) {
    return `This link belongs to ${view.approver}, but you are signed in as ${view.viewer}.`;
  }
  if (!who && view.verifiedOnly) {
    return 'This request accepts only verified decisions: use the personal link you were sent (email), Slack, or sign in with Cloudflare Access.';
  }
  if (who && view.requester && sameIdentity(who, view.requester)) return 'You requested this, so you cannot approve or reject it.';
  if (view.viewer && !view.approver && view.approvers.length > 0 && !findListed(view.approvers, [view.viewer])) {
    return `You are signed in as ${view.viewer}, who is not an approver of this request.`;
  }
  if (view.viewer && !view.approver && view.approvals.some((a) => a.verified && sameIdentity(a.approver, view.viewer))) {
    return 'You already decided this request.';
  }
  return undefined;
}

/** Why this link can no longer decide, and the status that says so. */
function closed(view: TokenView): { status: PageStatus; message: string } | undefined {
  if (view.tokenUsed) return { status: 409, message: `This link was already used: ${view.tokenUsed.by} decided at ${view.tokenUsed.at}.` };
  if (view.status === 'approved' || view.status === 'rejected') return { status: 409, message: `This request was already ${view.status}.` };
  if (view.status === 'timeout') return { status: 410, message: `This request expired at ${view.expiresAt}.` };
  if (view.status === 'cancelled') return { status: 410, message: 'This request was cancelled.' };
  return undefined;
}

/**
 * The review page behind every approval link. Opening it (GET/HEAD, what mail scanners do) only
 * reads; `?action=` preselects a button. Only the form's POST decides.
 */
export function reviewPage(c: Context, view: TokenView, preselect?: 'approve' | 'reject') {
  const done = closed(view);
  const bar = done ? undefined : barred(view);
  const expiry = Date.parse(view.expiresAt);
  const body = html`<p class="muted">${view.ensemble} · step ${view.step}</p>
<h1>Approval requested</h1>
<div class="prompt">${view.prompt}</div>
<p class="muted">Needs ${view.minApprovals} approval(s) · expires ${view.expiresAt} (${relativeTime(expiry)}) · execution ${view.executionId}</p>
<h2>Data</h2><pre>${prettyJson(view.data)}</pre>
${Object.keys(view.metadata).length ? html`<h2>Context</h2><dl>${Object.entries(view.metadata).map(([k, v]) => html`<dt>${k}</dt><dd><pre>${typeof v === 'string' ? v : prettyJson(v)}</pre></dd>`)}</dl>` : ''}
<h2>Approvers</h2><p>${view.approvers.length ? view.approvers.join(', ') : 'Anyone with this link (you state your name).'}</p>
${view.requester ? html`<p class="muted">Requested by ${view.requester}, who cannot decide it.</p>` : ''}
<h2>Decisions so far</h2>${decisions(view)}
<h2>Your decision</h2>
${done ? html`<p class="warn"><strong>${done.message}</strong></p>` : bar ? html`<p class="warn">${bar}</p>` : form(view, preselect)}`;
  return page(c, `Approval: ${view.ensemble} / ${view.step}`, body, done?.status ?? 200);
}

export function resultPage(c: Context, view: DecisionView) {
  const outcome = view.status === 'pending'
    ? `The request still needs more approvals (${view.approvals.filter((a) => a.approved).length} so far).`
    : `The request is now ${view.status}.`;
  return page(c, 'Decision recorded', html`<h1>Decision recorded</h1>
<p>You <strong>${view.decision.approved ? 'approved' : 'rejected'}</strong> step <strong>${view.step}</strong> as ${view.decision.approver}.</p>
<p>${outcome}</p><p class="muted">Execution ${view.executionId} · ${view.decision.at}. You can close this page.</p>`);
}

const titles: Partial<Record<PageStatus, string>> = {
  400: 'This decision could not be recorded',
  401: 'Your sign-in could not be verified',
  403: 'You cannot decide this request',
  404: 'Link not found',
  409: 'Already decided',
  410: 'This link is no longer valid',
  500: 'Something went wrong',
  503: 'Not available',
};

export function errorPage(c: Context, error: AppError) {
  const status = ([400, 401, 403, 404, 409, 410, 500, 503] as const).find((s) => s === error.status) ?? 400;
  const detail = status === 400 && Array.isArray(error.details)
    ? html`<ul>${(error.details as { path: string; message: string }[]).map((d) => html`<li>${d.path}: ${d.message}</li>`)}</ul>` : '';
  return page(c, titles[status]!, html`<h1>${titles[status]}</h1><p>${error.message}</p>${detail}`, status);
}
