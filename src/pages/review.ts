import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { AppError } from '../errors';
import type { TokenView } from '../hitl/views';
import type { DecisionView } from '../hitl/hitl-state';

// The token is in the URL: never leak it (Referrer-Policy), never cache it, never frame the page,
// and allow no script at all (the page needs none).
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:0 auto;padding:1rem;color:#111}
pre{background:#f4f4f5;padding:.75rem;overflow:auto;white-space:pre-wrap;word-break:break-word;border-radius:6px}
label{display:block;margin-top:.75rem;font-weight:600}textarea,input[type=text]{width:100%;box-sizing:border-box;font:inherit;padding:.4rem}
.actions{display:flex;gap:.75rem;margin-top:1rem}button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #888;cursor:pointer}
.approve{background:#16a34a;color:#fff;border-color:#15803d}.reject{background:#dc2626;color:#fff;border-color:#b91c1c}
.muted{color:#555}.chosen{outline:3px solid #2563eb}`;

function page(c: Context, title: string, body: unknown, status: 200 | 400 | 403 | 404 | 409 | 410 = 200) {
  const doc = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>${raw(STYLE)}</style></head><body>${body}</body></html>`;
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  return c.html(doc, status);
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2) ?? 'null';

export function reviewPage(c: Context, view: TokenView, preselect?: 'approve' | 'reject') {
  const open = view.status === 'pending';
  const body = html`<h1>Approval: ${view.ensemble} / ${view.step}</h1>
<p class="muted">Execution ${view.executionId} · expires ${view.expiresAt} · needs ${view.minApprovals} approval(s)</p>
<h2>Request</h2><pre>${view.prompt}</pre>
<h2>Data</h2><pre>${pretty(view.data)}</pre>
${Object.keys(view.metadata).length ? html`<h2>Context</h2><pre>${pretty(view.metadata)}</pre>` : ''}
<p>Approvers: ${view.approvers.join(', ') || 'anyone with this link'} · decisions so far: ${view.approvals.length}</p>
${open && !view.tokenUsed ? html`<form method="post">
${view.approver ? html`<p>Deciding as <strong>${view.approver}</strong></p>` : html`<label for="approver">Your name or email</label><input type="text" id="approver" name="approver" required maxlength="320">`}
<label for="feedback">Feedback</label><textarea id="feedback" name="feedback" rows="3"></textarea>
<label for="reason">Reason (if rejecting)</label><input type="text" id="reason" name="reason">
<div class="actions"><button class="approve${preselect === 'approve' ? ' chosen' : ''}" name="approved" value="true"${preselect === 'approve' ? ' autofocus' : ''}>Approve</button>
<button class="reject${preselect === 'reject' ? ' chosen' : ''}" name="approved" value="false"${preselect === 'reject' ? ' autofocus' : ''}>Reject</button></div>
</form>` : html`<p><strong>This request is ${view.tokenUsed ? `already decided through this link by ${view.tokenUsed.by}` : view.status}.</strong></p>`}`;
  return page(c, `Approval: ${view.step}`, body);
}

export function resultPage(c: Context, view: DecisionView) {
  return page(c, 'Decision recorded', html`<h1>Decision recorded</h1>
<p>You ${view.decision.approved ? 'approved' : 'rejected'} <strong>${view.step}</strong> as ${view.decision.approver}.</p>
<p>The request is now <strong>${view.status}</strong> (${view.approvals.length} decision(s)).</p>`);
}

export function errorPage(c: Context, error: AppError) {
  const status = ([400, 403, 404, 409, 410] as const).find((s) => s === error.status) ?? 400;
  const title = status === 404 ? 'Link not found' : status === 410 ? 'Link no longer valid' : status === 409 ? 'Already decided' : 'Cannot record this decision';
  return page(c, title, html`<h1>${title}</h1><p>${error.message}</p>`, status);
}
