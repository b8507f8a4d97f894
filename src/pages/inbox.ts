import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { InboxItem } from '../hitl/hitl-state';
import { page } from './layout';
import { dataHtml } from './render-data';
import { fieldsHtml, localeOf, zoneOf } from './review';
import { timeHtml } from './time';

/**
 * `/inbox`: every request waiting on the signed-in Cloudflare Access user, newest first, each
 * decidable in place (a form per request, posted to `/inbox/:executionId`; no JavaScript).
 */
export function inboxPage(c: Context, viewer: string, items: InboxItem[]) {
  const zone = zoneOf(c);
  const body = html`<header class="status ${items.length ? 'pending' : 'approved'}"><p class="eyebrow">Inbox of ${viewer}</p>
<h1>${items.length === 0 ? 'Nothing waits on you' : `${items.length} request${items.length === 1 ? '' : 's'} wait${items.length === 1 ? 's' : ''} on you`}</h1></header>
${items.length > 1 ? html`<form method="post" action="/inbox" id="bulk" class="decide">
<label for="bulk-reason">Reason <span class="muted">(optional, recorded with each)</span></label><input type="text" id="bulk-reason" name="reason" maxlength="10000">
<div class="actions" role="group" aria-label="Decide the selected requests"><button type="submit" class="approve" name="action" value="approve">Approve selected</button><button type="submit" class="reject" name="action" value="reject" formnovalidate>Reject selected</button></div>
<p class="muted hint">Tick the requests below; each is decided on its own. Requests with a form need their answers: decide them one by one.</p>
</form>` : ''}
${items.map((item) => html`<article class="card">
<p class="eyebrow">${items.length > 1 ? html`<label class="check"><input type="checkbox" form="bulk" name="item" value="${item.executionId} ${item.step}"> ${item.ensemble} · ${item.step}</label>` : html`${item.ensemble} · ${item.step}`}</p>
<div class="prompt">${item.prompt}</div>
<p class="facts">${item.approvals} of ${item.minApprovals} approval${item.minApprovals === 1 ? '' : 's'} · expires ${timeHtml(Date.parse(item.expiresAt), zone)}${item.requester ? html` · requested by ${item.requester}` : ''}</p>
<details><summary>Details</summary>${raw(dataHtml(item.data, item.format, localeOf(c)))}${Object.keys(item.metadata).length ? raw(dataHtml(item.metadata, 'auto', localeOf(c))) : ''}</details>
<form method="post" action="/inbox/${item.executionId}?step=${encodeURIComponent(item.step)}">
${fieldsHtml(item.requestedSchema, item.executionId)}
<label for="feedback-${item.executionId}">Feedback <span class="muted">(optional)</span></label><input type="text" id="feedback-${item.executionId}" name="feedback" maxlength="10000">
<label for="reason-${item.executionId}">Reason for rejecting <span class="muted">(optional)</span></label><input type="text" id="reason-${item.executionId}" name="reason" maxlength="10000">
<div class="actions"><button type="submit" class="approve" name="approved" value="true">Approve</button><button type="submit" class="reject" name="approved" value="false" formnovalidate>Reject</button></div>
</form></article>`)}
<p class="muted small">Requests that name no approvers (anyone may decide) are not listed: open their links.</p>`;
  return page(c, 'Your approvals', body);
}

/** What a bulk decision from the inbox did, item by item. */
export interface InboxResult { executionId: string; step: string; ok: boolean; status?: string; approved?: boolean; error?: { code: string; status: number; message: string } }

export function inboxResultPage(c: Context, viewer: string, results: InboxResult[]) {
  const done = results.filter((r) => r.ok).length;
  const body = html`<header class="status ${done === results.length ? 'approved' : done ? 'pending' : 'rejected'}"><p class="eyebrow">Inbox of ${viewer}</p>
<h1>${done} decided${done < results.length ? `, ${results.length - done} not` : ''}</h1></header>
<ul class="decisions">${results.map((r) => html`<li>${r.ok
    ? html`<strong class="${r.approved ? 'ok' : 'no'}">${r.approved ? 'Approved' : 'Rejected'}</strong> ${r.step} <span class="muted">(${r.executionId}; now ${r.status})</span>`
    : html`<strong class="no">Not decided</strong> ${r.step} <span class="muted">(${r.executionId})</span>: ${r.error?.message ?? ''}`}</li>`)}</ul>
<p><a href="/inbox">Back to your inbox</a></p>`;
  return page(c, 'Decisions recorded', body);
}
