import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { ListedExecution } from '../executions/index-store';
import type { DataFormat } from '../hitl/request';
import { page } from '../pages/layout';
import { dataHtml } from '../pages/render-data';
import { localeOf } from '../pages/review';

// The console's pages: server-rendered, no script, every value escaped by hono's `html`. Tables
// wrap only between words (never inside one), long ids are shortened with the whole id on hover,
// and a table wider than a phone scrolls inside its own box, never the page.

const when = (iso?: string) => {
  if (!iso) return '';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86_400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  return html`<span title="${iso}">${s >= 0 ? `${text} ago` : `in ${text}`}</span>`;
};

/** An execution id shortened to what fits a column; the whole id on hover and when copied. */
const shortId = (id: string) => html`<span class="id" title="${id}">${id}</span>`;
const badge = (status: string) => html`<span class="badge ${status}">${status}</span>`;
/**
 * Text that may wrap between its words only: each word is kept whole, so `approve-expense` or an
 * email with hyphens never breaks at a hyphen. A word wider than its column widens the table,
 * which then scrolls inside its own box.
 */
const words = (text: string) => text.split(/(\s+)/).filter(Boolean).map((w) => (/^\s+$/.test(w) ? ' ' : html`<span class="nw">${w}</span>`));
const grid = (head: string[], rows: unknown, cls: string) =>
  html`<div class="scroll"><table class="grid ${cls}"><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;

// A div, not a p: a form cannot sit inside a paragraph (the parser would close it before).
const nav = (operator: string, csrf?: string) => html`<div class="muted topnav"><a href="/admin">Approvals and runs</a> · ${operator}${csrf
  ? html` · <form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${csrf}"><button class="link">Sign out</button></form>` : ''}</div>`;

export function loginPage(c: Context, error?: string, status: 401 | 429 = 401) {
  return page(c, 'Console: sign in', html`<h1>Sign in to the console</h1>
${error ? html`<p class="warn">${error}</p>` : ''}
<form method="post" action="/admin/login">
<label for="key">API key</label><input type="password" id="key" name="key" required autocomplete="current-password">
<div class="actions"><button type="submit" class="approve">Sign in</button></div>
</form><p class="muted">The key is the Worker's API_KEY (npm start prints it). The session lasts 8 hours.</p>`, error ? status : 200);
}

export interface Filters { status?: string; ensemble?: string; approver?: string }

/** "by the API", "by cron (30 9 * * MON-FRI ...)": how a run started, escaped like all text here. */
const startedBy = (t: RunView['trigger']) => html`by ${t?.type === 'api' || !t ? 'the API' : t.type}${t?.detail ? html` (${words(t.detail)})` : ''}`;

const runCell = (e: ListedExecution) => html`<a href="/admin/executions/${e.executionId}">${words(e.ensemble)}</a><br>${shortId(e.executionId)}`;

export function homePage(c: Context, o: { operator: string; csrf?: string; pending: ListedExecution[]; runs: ListedExecution[]; next: string | null; filters: Filters }) {
  const qs = (extra: Record<string, string>) => new URLSearchParams({ ...Object.fromEntries(Object.entries(o.filters).filter(([, v]) => v)), ...extra }).toString();
  return page(c, 'Console', html`${nav(o.operator, o.csrf)}
<h1>Waiting for people</h1>
${o.pending.length === 0 ? html`<p class="muted">Nothing is waiting.</p>` : grid(['Run', 'Step', 'Waiting on', 'Since', 'Expires'],
    o.pending.map((e) => html`<tr><td>${runCell(e)}</td><td>${words(e.pending?.step ?? '')}</td><td>${e.pending?.waitsFor && !e.pending.approvers.length ? html`the event <code>${e.pending.waitsFor.event}</code> (key ${e.pending.waitsFor.key})` : words(e.pending?.approvers.join(', ') || 'anyone with the link')}</td><td class="nowrap">${when(e.pending?.since)}</td><td class="nowrap">${when(e.pending?.expiresAt)}</td></tr>`), 'pending')}
<h2>All runs</h2>
<form method="get" action="/admin" class="filters">
<div><label for="status">Status</label><select id="status" name="status"><option value="">any</option>${['running', 'suspended', 'completed', 'failed', 'cancelled'].map((s) => html`<option${o.filters.status === s ? ' selected' : ''}>${s}</option>`)}</select></div>
<div><label for="ensemble">Ensemble</label><input type="text" id="ensemble" name="ensemble" value="${o.filters.ensemble ?? ''}"></div>
<div><label for="approver">Waiting on</label><input type="text" id="approver" name="approver" value="${o.filters.approver ?? ''}"></div>
<button type="submit" class="plain">Filter</button></form>
${grid(['Run', 'Status', 'Started', 'By', 'Updated'], o.runs.map((e) => html`<tr><td>${runCell(e)}</td><td>${badge(e.status)}</td><td class="nowrap">${when(e.createdAt)}</td><td>${e.trigger ?? 'api'}</td><td class="nowrap">${when(e.updatedAt)}</td></tr>`), 'runs')}
${o.next ? html`<p><a href="/admin?${qs({ cursor: o.next })}">Older runs</a></p>` : ''}`, 200, 'console');
}

interface Decision { approver: string; approved: boolean; timestamp: string; via?: string; reason?: string; verified?: boolean }

interface RunView {
  executionId: string; ensemble: string; status: string; createdAt: string; updatedAt: string;
  /** How it was started (api, cron, webhook, queue, email, event) and by what (the schedule, the path). */
  trigger?: { type: string; detail?: string };
  input?: unknown;
  output?: unknown;
  error?: { code: string; message: string; step?: string };
  steps: { name: string; status: string; startedAt: string; durationMs: number; output?: unknown; error?: { code: string; message: string } }[];
  pending: null | Waiting;
  /** Every open request (a run may wait on several: branches of a parallel, items of a foreach). */
  requests?: Waiting[];
}

interface Waiting {
  step: string; prompt: string; approvers: string[]; minApprovals: number; approvals: Decision[]; expiresAt: string;
  data?: unknown; format?: DataFormat; metadata?: Record<string, unknown>; waitingOn?: string[];
  /** An `agent: wait` step: the event it waits for (no one decides it). */
  waitsFor?: { event: string; key: string };
  notifications?: { channel: string; status: string; attempts: number; lastError: string | null }[];
}

const shown = (v: unknown) => v !== null && v !== undefined && !(typeof v === 'object' && Object.keys(v).length === 0);

/** An operator's tools for one open request: more time, another approver. */
function requestOps(executionId: string, p: Waiting, csrf: unknown) {
  return html`<details class="ops"><summary>Extend or reassign</summary>
<form method="post" action="/admin/executions/${executionId}/extend">${csrf}<input type="hidden" name="step" value="${p.step}">
<label for="by-${p.step}">Give it more time</label><select id="by-${p.step}" name="by"><option value="1h">1 hour</option><option value="1d" selected>1 day</option><option value="3d">3 days</option><option value="7d">7 days</option></select>
<button type="submit" class="plain">Extend</button></form>
${p.approvers.length ? html`<form method="post" action="/admin/executions/${executionId}/reassign">${csrf}<input type="hidden" name="step" value="${p.step}">
<label for="replace-${p.step}">Approver to replace</label><select id="replace-${p.step}" name="replace"><option value="">(none: add an approver)</option>${(p.waitingOn ?? p.approvers).map((a) => html`<option>${a}</option>`)}</select>
<label for="to-${p.step}">New approver (email)</label><input type="email" id="to-${p.step}" name="to" required maxlength="320">
<button type="submit" class="plain">Reassign</button></form>` : ''}
</details>`;
}

function waiting(c: Context, p: Waiting, executionId?: string, csrf?: unknown) {
  if (p.waitsFor) {
    return html`<section class="request"><h2>Waiting: ${words(p.step)}</h2>
<p>for the event <code>${p.waitsFor.event}</code> with key <code>${p.waitsFor.key}</code> · until ${when(p.expiresAt)} · sent with <code>POST /events/${p.waitsFor.event}</code> or a webhook that emits it</p></section>`;
  }
  const locale = localeOf(c);
  const decided = p.approvals.map((a) => html`<li>${a.approved ? html`<span class="ok">approved</span>` : html`<span class="no">rejected</span>`} by <strong>${a.approver}</strong>${a.verified === false ? html` <span class="muted">(typed name)</span>` : ''} · ${when(a.timestamp)}${a.reason ? html` · ${a.reason}` : ''}</li>`);
  const open = (p.waitingOn ?? []).map((a) => html`<li><span class="muted">not decided yet:</span> ${a}</li>`);
  return html`<section class="request"><h2>Waiting: ${words(p.step)}</h2><div class="prompt">${p.prompt}</div>
<p>${p.approvals.filter((a) => a.approved).length} of ${p.minApprovals} approvals · expires ${when(p.expiresAt)}${p.approvers.length ? '' : ' · anyone with the link may decide'}</p>
${decided.length || open.length ? html`<ul class="decisions">${decided}${open}</ul>` : ''}
<h3>Under review</h3>${raw(dataHtml(p.data ?? null, p.format ?? 'auto', locale))}
${shown(p.metadata) ? html`<h3>Context</h3>${raw(dataHtml(p.metadata, 'auto', locale))}` : ''}
${(p.notifications ?? []).length ? grid(['Channel', 'Delivery', 'Attempts', 'Last error'], (p.notifications ?? []).map((n) => html`<tr><td>${n.channel}</td><td>${badge(n.status)}</td><td>${n.attempts}</td><td>${words(n.lastError ?? '')}</td></tr>`), 'notifications') : ''}
${executionId ? requestOps(executionId, p, csrf) : ''}</section>`;
}

/** Re-send and cancel: for every open request of the run at once. */
const operations = (r: RunView, csrf: unknown) => html`<div class="ops">
<form method="post" action="/admin/executions/${r.executionId}/notify">${csrf}<button type="submit" class="plain">Re-send notifications</button></form>
<form method="post" action="/admin/executions/${r.executionId}/cancel">${csrf}<input type="text" name="reason" placeholder="Reason (optional)" maxlength="2000" aria-label="Reason for cancelling"><button type="submit" class="danger">Cancel run</button></form>
</div>`;

export function runPage(c: Context, o: { operator: string; csrf?: string; run: RunView; audit: { seq: number; at: string; type: string; detail: unknown }[]; notice?: string }) {
  const r = o.run;
  const locale = localeOf(c);
  const csrf = o.csrf ? html`<input type="hidden" name="csrf" value="${o.csrf}">` : '';
  return page(c, `Run ${r.executionId}`, html`${nav(o.operator, o.csrf)}
<h1>${r.ensemble} ${badge(r.status)}</h1>
<p class="muted"><code>${r.executionId}</code> · started ${when(r.createdAt)} ${startedBy(r.trigger)} · updated ${when(r.updatedAt)}</p>
${o.notice ? html`<p class="note">${o.notice}</p>` : ''}
${r.error ? html`<p class="warn">${r.error.step ? `${r.error.step}: ` : ''}${r.error.code}: ${r.error.message}</p>` : ''}
${(r.requests ?? (r.pending ? [r.pending] : [])).map((p) => waiting(c, p, r.status === 'suspended' ? r.executionId : undefined, csrf))}
${r.pending ? operations(r, csrf) : ''}
${shown(r.input) ? html`<h2>Input</h2>${raw(dataHtml(r.input, 'auto', locale))}` : ''}
<h2>Steps</h2>
${grid(['Step', 'Status', 'Started', 'Took', 'Result'], r.steps.map((s) => html`<tr><td>${words(s.name)}</td><td>${badge(s.status)}</td><td class="nowrap">${when(s.startedAt)}</td><td class="nowrap">${s.durationMs} ms</td>
<td>${s.error ? words(`${s.error.code}: ${s.error.message}`) : shown(s.output) ? html`<details><summary>output</summary>${raw(dataHtml(s.output, 'auto', locale))}</details>` : ''}</td></tr>`), 'steps')}
${shown(r.output) ? html`<h2>Output</h2>${raw(dataHtml(r.output, 'auto', locale))}` : ''}
<h2>Audit log</h2>
${o.audit.length ? grid(['#', 'When', 'Event', 'Detail'], o.audit.map((e) => html`<tr><td>${e.seq}</td><td class="nowrap">${when(e.at)}</td><td>${words(e.type)}</td><td><code>${words(JSON.stringify(e.detail, null, 1).replace(/\n\s*/g, ' ').slice(0, 2000))}</code></td></tr>`), 'audit')
    : html`<p class="muted">This run never suspended, so it has no audit log.</p>`}`, 200, 'console');
}
