import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { AppError } from '../errors';
import type { DecisionView, DelegationView } from '../hitl/hitl-state';
import type { TokenView } from '../hitl/views';
import type { DataFormat } from '../hitl/request';
import type { FormField } from '../hitl/form';
import { prettyJson } from '../notify/escape';
import { findListed, sameIdentity } from '../identity/normalize';
import { page, type PageStatus } from './layout';
import { dataHtml } from './render-data';
import { inWords, timeHtml } from './time';

const VIA: Record<string, string> = { link: 'personal link', shared: 'typed name, not verified', slack: 'Slack', access: 'Cloudflare Access' };

/** The reader's time zone as Cloudflare places their IP (UTC when unknown). */
export const zoneOf = (c: Context): string | undefined => (c.req.raw as { cf?: { timezone?: unknown } }).cf?.timezone as string | undefined;

/** The reader's locale, from the first language their browser asks for that Intl knows (else en-US). */
export function localeOf(c: Context): string {
  for (const part of (c.req.header('accept-language') ?? '').split(',').slice(0, 8)) {
    const tag = part.split(';')[0]!.trim();
    if (!tag || tag === '*' || tag.length > 35) continue;
    try {
      const [canonical] = Intl.getCanonicalLocales(tag);
      if (canonical && Intl.NumberFormat.supportedLocalesOf(canonical).length) return canonical;
    } catch {
      // Not a language tag: try the next.
    }
  }
  return 'en-US';
}

type Tone = 'pending' | 'approved' | 'rejected' | 'closed';

/** The headline: what state the request is in, for this reader, first. */
function headline(view: TokenView): { title: string; tone: Tone; status: PageStatus; detail?: string } {
  const used = view.tokenUsed ? `This link was used by ${view.tokenUsed.by ?? 'someone'} ${inWords(Date.parse(view.tokenUsed.at))}.` : undefined;
  const by = (approved: boolean) => view.approvals.filter((a) => a.approved === approved).map((a) => a.approver).join(', ');
  // People decided only if enough approved (or someone rejected); otherwise the timeout policy did.
  const approvedByPeople = view.approvals.filter((a) => a.approved).length >= view.minApprovals;
  const rejectedByPeople = view.approvals.some((a) => !a.approved);
  if (view.status === 'approved') return { title: 'Approved', tone: 'approved', status: 409, detail: used ?? (approvedByPeople ? `Approved by ${by(true)}.` : 'Approved by the step\'s timeout policy.') };
  if (view.status === 'rejected') return { title: 'Rejected', tone: 'rejected', status: 409, detail: used ?? (rejectedByPeople ? `Rejected by ${by(false)}.` : 'Rejected by the step\'s timeout policy.') };
  if (view.status === 'timeout') return { title: 'Expired', tone: 'closed', status: 410, detail: 'Nobody can decide this request any more.' };
  if (view.status === 'cancelled') return { title: 'Cancelled', tone: 'closed', status: 410, detail: 'The run was cancelled.' };
  if (view.tokenUsed) return { title: 'Already decided through this link', tone: 'closed', status: 409, detail: `${used} The request still waits for others.` };
  return { title: 'Approval requested', tone: 'pending', status: 200 };
}

function decisions(view: TokenView, zone: string | undefined) {
  if (view.approvals.length === 0 && view.delegations.length === 0) return html`<p class="muted">No decisions yet.</p>`;
  return html`<ul class="decisions">
${view.approvals.map((a) => html`<li><strong class="${a.approved ? 'ok' : 'no'}">${a.approved ? 'Approved' : 'Rejected'}</strong> by ${a.approver}
<span class="muted">(${a.via ? VIA[a.via] : a.verified ? 'verified' : 'stated'}) · ${timeHtml(Date.parse(a.timestamp), zone)}</span>
${a.reason ? html`<div>Reason: ${a.reason}</div>` : ''}${a.feedback ? html`<div class="text">${a.feedback}</div>` : ''}
${a.response && Object.keys(a.response).length ? raw(dataHtml(a.response, 'auto')) : ''}</li>`)}
${view.delegations.map((d) => html`<li>${d.from} handed their place to <strong>${d.to}</strong> <span class="muted">· ${timeHtml(Date.parse(d.at), zone)}</span>${d.reason ? html`<div>${d.reason}</div>` : ''}</li>`)}
</ul>`;
}

function field(name: string, f: FormField, scope = '') {
  const id = `f-${scope ? `${scope}-` : ''}${name}`;
  const label = html`<label for="${id}">${f.title ?? name}${f.required ? html` <span class="req">(required)</span>` : html` <span class="muted">(optional)</span>`}</label>${f.description ? html`<p class="muted hint">${f.description}</p>` : ''}`;
  const fieldName = `response.${name}`;
  if (f.type === 'boolean') {
    return html`<label class="check"><input type="checkbox" id="${id}" name="${fieldName}" ${f.default === true ? 'checked' : ''}> ${f.title ?? name}${f.required ? html` <span class="req">(required to approve)</span>` : ''}</label>${f.description ? html`<p class="muted hint">${f.description}</p>` : ''}`;
  }
  if (f.enum) {
    return html`${label}<select id="${id}" name="${fieldName}" ${f.required ? 'required' : ''}>
${f.required && f.default === undefined ? html`<option value="">Choose…</option>` : f.required ? '' : html`<option value=""></option>`}
${f.enum.map((e) => html`<option value="${String(e)}" ${String(e) === String(f.default ?? '') ? 'selected' : ''}>${String(e)}</option>`)}</select>`;
  }
  if (f.type === 'number' || f.type === 'integer') {
    return html`${label}<input type="number" id="${id}" name="${fieldName}" inputmode="${f.type === 'integer' ? 'numeric' : 'decimal'}" step="${f.type === 'integer' ? '1' : 'any'}"
 ${f.minimum !== undefined ? html`min="${f.minimum}"` : ''} ${f.maximum !== undefined ? html`max="${f.maximum}"` : ''} ${f.default !== undefined ? html`value="${String(f.default)}"` : ''} ${f.required ? 'required' : ''}>`;
  }
  const long = (f.maxLength ?? 10_000) > 200;
  return long
    ? html`${label}<textarea id="${id}" name="${fieldName}" rows="3" maxlength="${f.maxLength ?? 10_000}" ${f.required ? 'required' : ''}>${f.default !== undefined ? String(f.default) : ''}</textarea>`
    : html`${label}<input type="text" id="${id}" name="${fieldName}" maxlength="${f.maxLength ?? 200}" ${f.default !== undefined ? html`value="${String(f.default)}"` : ''} ${f.required ? 'required' : ''}>`;
}

/**
 * The decision form. Its buttons live in a bar that sticks to the bottom of the screen, so on a
 * phone Approve and Reject are visible without scrolling, whatever the length of the data.
 */
function form(view: TokenView, preselect?: 'approve' | 'reject') {
  return html`<form method="post" id="decide" class="decide">
${preselect ? html`<p class="note">You opened the <strong>${preselect}</strong> link. Nothing is recorded until you press ${preselect === 'approve' ? 'Approve' : 'Reject'}.</p>` : ''}
${view.approver
    ? html`<p>Deciding as <strong>${view.approver}</strong>.</p>`
    : view.viewer
      ? html`<p>Deciding as <strong>${view.viewer}</strong> (signed in with Cloudflare Access).</p>`
      : html`<label for="approver">Your name or email</label><input type="text" id="approver" name="approver" required maxlength="320" autocomplete="email">
<p class="muted hint">A typed name is recorded as not verified, and this link accepts one decision.</p>`}
${fieldsHtml(view.requestedSchema)}
<label for="feedback">Feedback <span class="muted">(optional)</span></label><textarea id="feedback" name="feedback" rows="2" maxlength="10000"></textarea>
<label for="reason">Reason for rejecting <span class="muted">(optional)</span></label><input type="text" id="reason" name="reason" maxlength="10000">
</form>`;
}

function actionBar(preselect?: 'approve' | 'reject') {
  const chosen = (which: 'approve' | 'reject') => (preselect === which ? ' chosen' : '');
  return html`<div class="bar" role="group" aria-label="Your decision">
<button type="submit" form="decide" class="approve${chosen('approve')}" name="approved" value="true">Approve</button>
<button type="submit" form="decide" class="reject${chosen('reject')}" name="approved" value="false" formnovalidate>Reject</button>
</div>`;
}

/** A verified approver who has not decided may hand their place on (POST `{ delegateTo, reason }`). */
function delegateForm(view: TokenView) {
  const who = view.approver ?? view.viewer;
  if (!view.delegation || !who) return '';
  return html`<details class="delegate"><summary>Can't decide? Hand this to someone else</summary>
<form method="post">
<label for="delegateTo">Their email</label><input type="email" id="delegateTo" name="delegateTo" required maxlength="320" autocomplete="off">
<label for="delegate-reason">Why <span class="muted">(optional)</span></label><input type="text" id="delegate-reason" name="reason" maxlength="10000">
<p class="muted hint">They get their own link; yours stops working; they decide in your place.</p>
<button type="submit" class="secondary">Hand on</button>
</form></details>`;
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
  // Handed on, and not handed back: the latest hand-over from them, while they hold no place.
  const handedOn = who && view.approvers.length > 0 && !findListed(view.approvers, [who])
    ? [...view.delegations].reverse().find((d) => sameIdentity(d.from, who))
    : undefined;
  if (handedOn) return `You handed this decision to ${handedOn.to}.`;
  if (view.viewer && !view.approver && view.approvers.length > 0 && !findListed(view.approvers, [view.viewer])) {
    return `You are signed in as ${view.viewer}, who is not an approver of this request.`;
  }
  if (view.viewer && !view.approver && view.approvals.some((a) => a.verified && sameIdentity(a.approver, view.viewer))) {
    return 'You already decided this request.';
  }
  return undefined;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * The review page behind every approval link, decision first: what state the request is in, the
 * question, the controls, then the context. Opening it (GET/HEAD, what mail scanners do) only
 * reads; `?action=` preselects a button. Only the form's POST decides.
 */
export function reviewPage(c: Context, view: TokenView, preselect?: 'approve' | 'reject') {
  const zone = zoneOf(c);
  const head = headline(view);
  const open = head.tone === 'pending';
  const bar = open ? barred(view) : undefined;
  const approvedCount = view.approvals.filter((a) => a.approved).length;
  const body = html`<header class="status ${head.tone}">
<p class="eyebrow">${view.ensemble} · ${view.step}</p>
<h1>${head.title}</h1>
${head.detail ? html`<p>${head.detail}</p>` : ''}
<p class="facts">${approvedCount} of ${plural(view.minApprovals, 'approval')}${view.onReject === 'impossible' ? ' (a majority decides)' : ''} ·
${open ? html`expires ${timeHtml(Date.parse(view.expiresAt), zone)}` : html`closed`}</p>
</header>
<div class="prompt">${view.prompt}</div>
${open && bar ? html`<p class="warn">${bar}</p>` : ''}
<section><h2>Details</h2>${raw(dataHtml(view.data, view.format, localeOf(c)))}
<details class="raw"><summary>Raw JSON</summary><pre class="json">${prettyJson(view.data)}</pre></details></section>
${Object.keys(view.metadata).length ? html`<section><h2>Context</h2>${raw(dataHtml(view.metadata, 'auto', localeOf(c)))}</section>` : ''}
${open && !bar ? html`<section><h2>Your decision</h2>${form(view, preselect)}</section>` : ''}
<section><h2>Decisions</h2>${decisions(view, zone)}
<p class="muted">Approvers: ${view.approvers.length ? view.approvers.join(', ') : 'anyone with this link (they state a name)'}${view.requester ? html` · requested by ${view.requester}, who cannot decide it` : ''}</p></section>
${open && !bar ? delegateForm(view) : ''}
<p class="muted small">Execution ${view.executionId}</p>
${open && !bar ? actionBar(preselect) : ''}`;
  return page(c, `${head.title}: ${view.ensemble} / ${view.step}`, body, head.status);
}

/** The inputs of a step's form (from its JSON Schema); `scope` keeps ids unique when a page holds several forms. */
export function fieldsHtml(schema: Record<string, unknown> | null, scope = '') {
  const fields = fieldsOf(schema);
  return fields ? Object.entries(fields).map(([name, f]) => field(name, f, scope)) : '';
}

/** The form fields, read back from the JSON Schema custom UIs get too, so both show the same form. */
function fieldsOf(schema: Record<string, unknown> | null): Record<string, FormField> | undefined {
  const properties = schema?.properties as Record<string, FormField & { type: FormField['type'] }> | undefined;
  if (!properties || Object.keys(properties).length === 0) return undefined;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  return Object.fromEntries(Object.entries(properties).map(([name, f]) => [name, { ...f, required: required.has(name) }]));
}

/** What was decided on, repeated on the page that confirms a decision. */
export interface DecidedOn {
  prompt: string;
  data: unknown;
  format: DataFormat;
  reason?: string;
  feedback?: string;
}

export function resultPage(c: Context, view: DecisionView, back?: string, on?: DecidedOn) {
  const outcome = view.status === 'pending'
    ? `The request still needs more approvals (${view.approvals.filter((a) => a.approved).length} so far).`
    : `The request is now ${view.status}.`;
  const tone: Tone = view.status === 'approved' ? 'approved' : view.status === 'rejected' ? 'rejected' : 'pending';
  return page(c, 'Decision recorded', html`<header class="status ${tone}"><p class="eyebrow">${view.step}</p><h1>Decision recorded</h1>
<p>You <strong>${view.decision.approved ? 'approved' : 'rejected'}</strong> as ${view.decision.approver}. ${outcome}</p>
${on?.reason ? html`<p>Your reason: ${on.reason}</p>` : ''}${on?.feedback ? html`<div class="text">${on.feedback}</div>` : ''}</header>
${on ? html`<div class="prompt">${on.prompt}</div><section><h2>What you decided on</h2>${raw(dataHtml(on.data, on.format, localeOf(c)))}</section>` : ''}
<p class="muted">Execution ${view.executionId} · ${timeHtml(Date.parse(view.decision.at), zoneOf(c))}. ${back ? html`<a href="${back}">Back to your inbox</a>` : 'You can close this page.'}</p>`);
}

export function delegatedPage(c: Context, view: DelegationView) {
  return page(c, 'Handed on', html`<header class="status closed"><p class="eyebrow">${view.step}</p><h1>Handed on to ${view.delegation.to}</h1>
<p>They get their own link and decide in your place; this link no longer decides.</p></header>
<p class="muted">Execution ${view.executionId} · ${timeHtml(Date.parse(view.delegation.at), zoneOf(c))}. You can close this page.</p>`);
}

const titles: Partial<Record<PageStatus, string>> = {
  400: 'This decision could not be recorded',
  401: 'Your sign-in could not be verified',
  403: 'You cannot decide this request',
  404: 'Link not found',
  409: 'Already decided',
  410: 'This link is no longer valid',
  413: 'Too much text',
  500: 'Something went wrong',
  503: 'Not available',
};

export function errorPage(c: Context, error: AppError) {
  const status = ([400, 401, 403, 404, 409, 410, 413, 500, 503] as const).find((s) => s === error.status) ?? 400;
  const detail = status === 400 && Array.isArray(error.details)
    ? html`<ul>${(error.details as { path: string; message: string }[]).map((d) => html`<li>${d.path}: ${d.message}</li>`)}</ul>` : '';
  return page(c, titles[status]!, html`<header class="status ${status >= 500 ? 'closed' : 'rejected'}"><h1>${titles[status]}</h1><p>${error.message}</p></header>${detail}
<p class="muted">Go back to change your answer; nothing was recorded.</p>`, status);
}
