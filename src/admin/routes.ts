import { Hono } from 'hono';
import { AppError } from '../errors';
import { decodeCursor, getExecution, listExecutions, statuses, type ExecutionStatus } from '../executions/index-store';
import { isApiKey } from '../http/auth';
import { unwrap, type Result } from '../hitl/result';
import { requireDb } from '../http/db';
import { executionStub } from '../http/stub';
import { ExtendBody, ReassignBody } from '../hitl/operators';
import { validated } from '../http/body';
import type { AppEnv } from '../http/types';
import { errorPage } from '../pages/review';
import { log } from '../log';
import { adminAuth, type Operator } from './auth';
import { homePage, loginPage, runPage, type Filters } from './pages';
import { csrfToken, newSession, readSession, sessionCookie, signedSession } from './session';
import { clientOf, guardOf } from './guard';

type AdminEnv = AppEnv & { Variables: { operator: Operator } };

const csrfOf = (c: { env: AppEnv['Bindings']; var: { operator: Operator } }) => c.var.operator.principal ? csrfToken(c.env.API_KEY!, c.var.operator.principal) : undefined;
const secure = (url: string) => new URL(url).protocol === 'https:';

/** `/admin`: the operator console (pending approvals first, runs, one run's timeline, actions). */
export const adminRoutes = new Hono<AdminEnv>()
  .use('*', adminAuth)
  .onError((e, c) => {
    if (e instanceof AppError) return errorPage(c, e);
    log('admin-error', { path: new URL(c.req.url).pathname, error: e instanceof Error ? e.message : String(e) }, 'error');
    return errorPage(c, new AppError('INTERNAL', 'the console failed to answer; the error is in the Worker logs', 500));
  })
  .get('/login', (c) => loginPage(c))
  .post('/login', async (c) => {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const key = typeof form.key === 'string' ? form.key : '';
    const session = newSession(c.env.API_KEY!);
    // The guard decides in one call: a lockout refuses even the right key until it ends.
    const client = clientOf(c.req.header('cf-connecting-ip'));
    const outcome = await guardOf(c.env).login(client, isApiKey(key, c.env.API_KEY!), session.hash, session.expiresAt);
    if (!outcome.ok && outcome.reason === 'locked') {
      c.header('retry-after', String(outcome.retryAfterS));
      return loginPage(c, `Too many wrong keys ${outcome.scope === 'client' ? 'from here' : 'in a short time'}: signing in is closed for ${Math.ceil(outcome.retryAfterS / 60)} minute(s). Scripts can still use the key as a bearer header.`, 429);
    }
    if (!outcome.ok) return loginPage(c, 'That is not the API key.');
    c.header('set-cookie', sessionCookie(session.value, secure(c.req.url)));
    return c.redirect('/admin', 303);
  })
  .post('/logout', async (c) => {
    // Ends the session where it is kept, not only in this browser: the old cookie stops working.
    const hash = signedSession(c.env.API_KEY!, readSession(c.req.header('cookie')));
    if (hash) await guardOf(c.env).logout(hash);
    c.header('set-cookie', sessionCookie('', secure(c.req.url), 0));
    return c.redirect('/admin/login', 303);
  })
  .get('/', async (c) => {
    const db = requireDb(c.env);
    const q = c.req.query();
    const filters: Filters = {
      status: statuses.includes(q.status as ExecutionStatus) ? q.status : undefined,
      ensemble: q.ensemble?.trim().slice(0, 200) || undefined,
      approver: q.approver?.trim().slice(0, 320) || undefined,
    };
    const pending = await listExecutions(db, { status: 'suspended', limit: 100 });
    const runs = await listExecutions(db, { ...filters, status: filters.status as ExecutionStatus | undefined, limit: 50 }, q.cursor ? decodeCursor(q.cursor) : undefined);
    return homePage(c, { operator: c.var.operator.name, csrf: csrfOf(c), pending: pending.executions, runs: runs.executions, next: runs.cursor, filters });
  })
  .get('/executions/:id', async (c) => {
    const id = c.req.param('id');
    const stub = executionStub(c.env, id);
    const described = (await stub.describe()) as Result<Parameters<typeof runPage>[1]['run']>;
    let run = described.ok ? described.value : undefined;
    if (!run && c.env.DB) {
      const row = await getExecution(c.env.DB, id);
      const summary = (row?.summary ?? {}) as { steps?: Parameters<typeof runPage>[1]['run']['steps']; error?: { code: string; message: string }; trigger?: { type: string; detail?: string } };
      if (row) run = { ...row, trigger: summary.trigger ?? { type: row.trigger }, steps: summary.steps ?? [], ...(summary.error ? { error: summary.error } : {}), pending: null };
    }
    if (!run) throw new AppError('NOT_FOUND', `no execution ${id}`, 404);
    const audit = described.ok ? unwrap((await stub.auditLog()) as Result<{ seq: number; at: string; type: string; detail: unknown }[]>) : [];
    const notice = ({ notified: 'Notifications sent again.', cancelled: 'The run was cancelled.', extended: 'The deadline was extended.', reassigned: 'The request was reassigned: the new approver was sent a link.' } as Record<string, string>)[c.req.query('done') ?? ''];
    return runPage(c, { operator: c.var.operator.name, csrf: csrfOf(c), run, audit, notice });
  })
  .post('/executions/:id/notify', async (c) => {
    const id = c.req.param('id');
    unwrap((await executionStub(c.env, id).renotify()) as Result<unknown>);
    return c.redirect(`/admin/executions/${id}?done=notified`, 303);
  })
  .post('/executions/:id/extend', async (c) => {
    const id = c.req.param('id');
    const form = await c.req.parseBody();
    const step = typeof form.step === 'string' ? form.step.slice(0, 1000) : '';
    const by = typeof form.by === 'string' ? form.by.trim().slice(0, 40) : '';
    if (!step || !by) throw new AppError('INVALID_FORM', 'name the step and how much longer it may wait', 400);
    unwrap((await executionStub(c.env, id).extend(step, validated(ExtendBody, { by }))) as Result<unknown>);
    return c.redirect(`/admin/executions/${id}?done=extended`, 303);
  })
  .post('/executions/:id/reassign', async (c) => {
    const id = c.req.param('id');
    const form = await c.req.parseBody();
    const field = (k: string) => (typeof form[k] === 'string' ? String(form[k]).trim().slice(0, 320) : '');
    const step = typeof form.step === 'string' ? form.step.slice(0, 1000) : '';
    const to = field('to');
    const from = field('replace');
    if (!step || !to) throw new AppError('INVALID_FORM', 'name the step and the new approver', 400);
    unwrap((await executionStub(c.env, id).reassign(step, validated(ReassignBody, from ? { replace: from, with: to } : { add: to }))) as Result<unknown>);
    return c.redirect(`/admin/executions/${id}?done=reassigned`, 303);
  })
  .post('/executions/:id/cancel', async (c) => {
    const id = c.req.param('id');
    const form = await c.req.parseBody();
    const reason = typeof form.reason === 'string' && form.reason.trim() ? form.reason.trim().slice(0, 2000) : undefined;
    unwrap((await executionStub(c.env, id).cancel(reason)) as Result<unknown>);
    return c.redirect(`/admin/executions/${id}?done=cancelled`, 303);
  });

