import type { Context } from 'hono';
import { html } from 'hono/html';
import type { ListedExecution } from '../executions/index-store';
import { page } from '../pages/layout';

// The console's pages: server-rendered, no script, every value escaped by hono's `html`.

const when = (iso?: string) => {
  if (!iso) return '';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86_400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  return html`<span title="${iso}">${s >= 0 ? `${text} ago` : `in ${text}`}</span>`;
};

const nav = (operator: string, csrf?: string) => html`<p class="muted"><a href="/admin">Approvals and runs</a> · ${operator}${csrf
  ? html` · <form method="post" action="/admin/logout" style="display:inline"><input type="hidden" name="csrf" value="${csrf}"><button class="link">Sign out</button></form>` : ''}</p>`;

export function loginPage(c: Context, error?: string, status: 401 | 429 = 401) {
  return page(c, 'Console: sign in', html`<h1>Sign in to the console</h1>
${error ? html`<p class="warn">${error}</p>` : ''}
<form method="post" action="/admin/login">
<label for="key">API key</label><input type="password" id="key" name="key" required autocomplete="current-password">
<div class="actions"><button type="submit" class="approve">Sign in</button></div>
</form><p class="muted">The key is the Worker's API_KEY (npm start prints it). The session lasts 8 hours.</p>`, error ? status : 200);
}

export interface Filters { status?: string; ensemble?: string; approver?: string }

export function homePage(c: Context, o: { operator: string; csrf?: string; pending: ListedExecution[]; runs: ListedExecution[]; next: string | null; filters: Filters }) {
  const qs = (extra: Record<string, string>) => new URLSearchParams({ ...Object.fromEntries(Object.entries(o.filters).filter(([, v]) => v)), ...extra }).toString();
  return page(c, 'Console', html`${nav(o.operator, o.csrf)}
<h1>Waiting for people</h1>
${o.pending.length === 0 ? html`<p class="muted">Nothing is waiting.</p>` : html`<table class="pending"><thead><tr><th>Run</th><th>Step</th><th>Waiting on</th><th>Since</th><th>Expires</th></tr></thead><tbody>
${o.pending.map((e) => html`<tr><td><a href="/admin/executions/${e.executionId}">${e.ensemble}</a><br><span class="muted">${e.executionId}</span></td><td>${e.pending?.step}</td><td>${e.pending?.approvers.join(', ') || 'anyone with the link'}</td><td>${when(e.pending?.since)}</td><td>${when(e.pending?.expiresAt)}</td></tr>`)}
</tbody></table>`}
<h2>All runs</h2>
<form method="get" action="/admin" class="filters">
<label for="status">Status</label><select id="status" name="status"><option value="">any</option>${['running', 'suspended', 'completed', 'failed', 'cancelled'].map((s) => html`<option${o.filters.status === s ? ' selected' : ''}>${s}</option>`)}</select>
<label for="ensemble">Ensemble</label><input type="text" id="ensemble" name="ensemble" value="${o.filters.ensemble ?? ''}">
<label for="approver">Waiting on</label><input type="text" id="approver" name="approver" value="${o.filters.approver ?? ''}">
<div class="actions"><button type="submit">Filter</button></div></form>
<table class="runs"><thead><tr><th>Run</th><th>Status</th><th>Started</th><th>Updated</th></tr></thead><tbody>
${o.runs.map((e) => html`<tr><td><a href="/admin/executions/${e.executionId}">${e.ensemble}</a><br><span class="muted">${e.executionId}</span></td><td>${e.status}</td><td>${when(e.createdAt)}</td><td>${when(e.updatedAt)}</td></tr>`)}
</tbody></table>
${o.next ? html`<p><a href="/admin?${qs({ cursor: o.next })}">Older runs</a></p>` : ''}`);
}

interface RunView {
  executionId: string; ensemble: string; status: string; createdAt: string; updatedAt: string;
  error?: { code: string; message: string; step?: string };
  steps: { name: string; status: string; startedAt: string; durationMs: number; error?: { code: string; message: string } }[];
  pending: null | { step: string; prompt: string; approvers: string[]; minApprovals: number; approvals: { approver: string; approved: boolean; timestamp: string; via?: string; reason?: string }[]; expiresAt: string; notifications?: { channel: string; status: string; attempts: number; lastError: string | null }[] };
}

export function runPage(c: Context, o: { operator: string; csrf?: string; run: RunView; audit: { seq: number; at: string; type: string; detail: unknown }[]; notice?: string }) {
  const r = o.run;
  const csrf = o.csrf ? html`<input type="hidden" name="csrf" value="${o.csrf}">` : '';
  return page(c, `Run ${r.executionId}`, html`${nav(o.operator, o.csrf)}
<h1>${r.ensemble}: ${r.status}</h1>
<p class="muted">${r.executionId} · started ${when(r.createdAt)} · updated ${when(r.updatedAt)}</p>
${o.notice ? html`<p class="note">${o.notice}</p>` : ''}
${r.error ? html`<p class="warn">${r.error.step ? `${r.error.step}: ` : ''}${r.error.code}: ${r.error.message}</p>` : ''}
${r.pending ? html`<h2>Waiting: ${r.pending.step}</h2><div class="prompt">${r.pending.prompt}</div>
<p>Approvers: ${r.pending.approvers.join(', ') || 'anyone with the link'} · ${r.pending.approvals.filter((a) => a.approved).length} of ${r.pending.minApprovals} approvals · expires ${when(r.pending.expiresAt)}</p>
${(r.pending.notifications ?? []).length ? html`<table class="notifications"><thead><tr><th>Channel</th><th>Delivery</th><th>Attempts</th><th>Last error</th></tr></thead><tbody>${(r.pending.notifications ?? []).map((n) => html`<tr><td>${n.channel}</td><td>${n.status}</td><td>${n.attempts}</td><td>${n.lastError ?? ''}</td></tr>`)}</tbody></table>` : ''}
<div class="actions">
<form method="post" action="/admin/executions/${r.executionId}/notify">${csrf}<button type="submit" class="approve">Re-send notifications</button></form>
<form method="post" action="/admin/executions/${r.executionId}/cancel">${csrf}<input type="text" name="reason" placeholder="Reason (optional)" maxlength="2000" aria-label="Reason"><button type="submit" class="reject">Cancel run</button></form>
</div>` : ''}
<h2>Steps</h2>
<table class="steps"><thead><tr><th>Step</th><th>Status</th><th>Started</th><th>Took</th><th>Error</th></tr></thead><tbody>
${r.steps.map((s) => html`<tr><td>${s.name}</td><td>${s.status}</td><td>${when(s.startedAt)}</td><td>${s.durationMs} ms</td><td>${s.error ? `${s.error.code}: ${s.error.message}` : ''}</td></tr>`)}
</tbody></table>
<h2>Audit log</h2>
${o.audit.length ? html`<table class="audit"><thead><tr><th>#</th><th>When</th><th>Event</th><th>Detail</th></tr></thead><tbody>
${o.audit.map((e) => html`<tr><td>${e.seq}</td><td>${when(e.at)}</td><td>${e.type}</td><td><code>${JSON.stringify(e.detail)}</code></td></tr>`)}
</tbody></table>` : html`<p class="muted">This run never suspended, so it has no audit log.</p>`}`);
}
