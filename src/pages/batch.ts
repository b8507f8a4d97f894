import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { BatchResult, BatchView } from '../hitl/hitl-state';
import type { DataFormat } from '../hitl/request';
import { page } from './layout';
import { dataHtml } from './render-data';
import { fieldsHtml, localeOf, zoneOf } from './review';
import { timeHtml } from './time';

// The batch review page behind an approver's batch link: decision controls first (approve or reject
// the selected items, or all of them, with one reason), then every item with its data, a checkbox
// and its own approve/reject (and its form, if the step has one). No script: checkboxes belong to
// the bulk form by their `form` attribute, so each item can have a form of its own beside it.

const STATUS: Record<string, string> = { pending: 'waiting', approved: 'approved', rejected: 'rejected', timeout: 'expired', cancelled: 'closed' };

function item(c: Context, r: BatchView['requests'][number], index: number) {
  const open = r.decidable;
  const scope = `i${r.request}`;
  return html`<section class="item" id="item-${r.request}">
<h2>${open ? html`<label class="check"><input type="checkbox" form="bulk" name="request" value="${r.request}" checked> ${index + 1}. ${r.prompt}</label>` : html`${index + 1}. ${r.prompt}`}</h2>
<p class="muted">${r.step} · ${r.decided ? html`you ${r.decided.approved ? 'approved' : 'rejected'} ${timeHtml(Date.parse(r.decided.at), zoneOf(c))}` : STATUS[r.status] ?? r.status}${open ? html` · expires ${timeHtml(Date.parse(r.expiresAt), zoneOf(c))}` : ''}</p>
${raw(dataHtml(r.data, r.format as DataFormat, localeOf(c)))}
${Object.keys(r.metadata).length ? raw(dataHtml(r.metadata, 'auto', localeOf(c))) : ''}
${open ? html`<details class="one"><summary>Decide this one alone${r.requestedSchema ? ' (with its form)' : ''}</summary>
<form method="post"><input type="hidden" name="request" value="${r.request}">
${fieldsHtml(r.requestedSchema, scope)}
<label for="reason-${scope}">Reason <span class="muted">(optional)</span></label><input type="text" id="reason-${scope}" name="reason" maxlength="10000">
<div class="actions"><button type="submit" class="approve" name="action" value="approve">Approve</button><button type="submit" class="reject" name="action" value="reject" formnovalidate>Reject</button></div>
</form></details>` : ''}
</section>`;
}

/** GET /callback/batch/:token as a page: reads only. `preselect` comes from the message's link. */
export function batchPage(c: Context, view: BatchView, preselect?: 'approve' | 'reject') {
  const open = view.requests.filter((r) => r.decidable);
  const body = html`<header class="status ${open.length ? 'pending' : 'closed'}">
<p class="eyebrow">${view.ensemble}</p>
<h1>${open.length ? `${open.length} of ${view.requests.length} waiting for you` : 'Nothing left to decide'}</h1>
<p>Deciding as <strong>${view.approver}</strong>. Each item is decided on its own: one that cannot be (already decided, expired) does not stop the others.</p>
</header>
${open.length ? html`<form method="post" id="bulk" class="decide">
${preselect ? html`<p class="note">You opened the <strong>${preselect}</strong> link. Nothing is recorded until you press a button.</p>` : ''}
<label for="bulk-reason">Reason <span class="muted">(optional, recorded with each)</span></label><input type="text" id="bulk-reason" name="reason" maxlength="10000">
<div class="actions" role="group" aria-label="Decide the selected items">
<button type="submit" class="approve" name="action" value="approve">Approve selected</button>
<button type="submit" class="reject" name="action" value="reject" formnovalidate>Reject selected</button>
</div>
<p class="muted hint">Every waiting item is selected; untick the ones to leave for later. Items with a form need their answers: decide them alone below.</p>
</form>` : ''}
${view.requests.map((r, i) => item(c, r, i))}
<p class="muted small">Execution ${view.executionId}</p>`;
  return page(c, `${open.length} waiting: ${view.ensemble}`, body, 200);
}

/** What a batch post decided, item by item. */
export function batchResultPage(c: Context, result: BatchResult, back: string) {
  const done = result.results.filter((r) => r.ok);
  const failed = result.results.filter((r) => !r.ok);
  const tone = failed.length === 0 ? 'approved' : done.length === 0 ? 'rejected' : 'pending';
  const body = html`<header class="status ${tone}"><h1>${done.length} decided${failed.length ? `, ${failed.length} not` : ''}</h1>
<p>As <strong>${result.approver}</strong>.</p></header>
<ul class="decisions">${result.results.map((r) => html`<li>${r.ok
    ? html`<strong class="${r.approved ? 'ok' : 'no'}">${r.approved ? 'Approved' : 'Rejected'}</strong> ${r.step ?? ''} <span class="muted">(the request is now ${r.status})</span>`
    : html`<strong class="no">Not decided</strong> ${r.step ?? `request ${r.request}`}: ${r.error?.message ?? ''}`}</li>`)}</ul>
<p><a href="${back}">Back to the list</a></p>
<p class="muted small">Execution ${result.executionId}</p>`;
  return page(c, 'Decisions recorded', body, failed.length && !done.length ? 409 : 200);
}
