import { Hono } from 'hono';
import { AppError } from '../errors';
import { accessConfig, accessIdentity } from '../identity/access';
import { listExecutions } from '../executions/index-store';
import { CallbackBody, DecisionBody } from '../hitl/request';
import type { DecisionView, InboxItem } from '../hitl/hitl-state';
import { unwrap, type Result } from '../hitl/result';
import { inboxPage, inboxResultPage, type InboxResult } from '../pages/inbox';
import { z } from 'zod';
import { errorPage, resultPage } from '../pages/review';
import { bulkDecisionForm, isFormPost, readBody, validated, wantsHtml } from './body';
import { requireDb } from './db';
import { crossSite, ownOrigins } from './same-site';
import { executionStub } from './stub';
import type { AppEnv } from './types';

const DOCS = 'docs/approvals.md#the-inbox in this project';
const MAX_ITEMS = 100;


/** The Cloudflare Access user behind this request; the inbox exists only with Access configured. */
async function viewerOf(env: AppEnv['Bindings'], headers: Headers): Promise<string> {
  if (!accessConfig(env)) throw new AppError('NOT_FOUND', `the inbox needs Cloudflare Access (ACCESS_TEAM_DOMAIN and ACCESS_AUD): see ${DOCS}`, 404);
  const viewer = await accessIdentity(env, headers);
  if (!viewer) throw new AppError('ACCESS_REQUIRED', 'sign in through Cloudflare Access to see your inbox', 401);
  return viewer;
}

/**
 * `/inbox` (under the Access application): every request waiting on the signed-in person, from the
 * executions index, each decidable in place. Decisions are Access decisions, so they must come
 * from this site's own page (Access cookies ride along on cross-site posts too).
 */
export const inboxRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const html = wantsHtml(c.req.header('accept'));
    try {
      const viewer = await viewerOf(c.env, c.req.raw.headers);
      const { executions } = await listExecutions(requireDb(c.env), { status: 'suspended', approver: viewer, limit: MAX_ITEMS });
      // The index says who a request waits on; the object says what it is and has the last word.
      const items = (await Promise.all(executions.map((e) => executionStub(c.env, e.executionId).inboxItems(viewer) as Promise<InboxItem[]>))).flat();
      if (!html) return c.json({ viewer, items });
      return inboxPage(c, viewer, items);
    } catch (e) {
      if (html && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  })
  // Many at once: `POST /inbox` (not `/inbox/bulk`, which beside `/inbox/:executionId` would make
  // hono fall back to its slower router for every route of the app).
  .post('/', async (c) => {
    const isForm = isFormPost(c.req.header('content-type'));
    try {
      const viewer = await viewerOf(c.env, c.req.raw.headers);
      if (crossSite(c.req.raw.headers, ownOrigins(c.req.url, c.env.PUBLIC_BASE_URL), { requireEvidence: true })) {
        throw new AppError('CROSS_SITE_REQUEST', 'a decision made as your Cloudflare Access identity must come from this site\'s own pages', 403);
      }
      const body = isForm ? validated(InboxBulkBody, await bulkForm(c.req.raw)) : await readBody(c, InboxBulkBody);
      const meta = { ip: c.req.header('cf-connecting-ip') ?? undefined, userAgent: c.req.header('user-agent') ?? undefined, fromHtml: isForm };
      // Each item on its own, in its own run's object: one refused never blocks another.
      const results: InboxResult[] = [];
      for (const d of body.decisions) {
        try {
          const decided = (await executionStub(c.env, d.executionId).decideAs(viewer, { approved: d.approved, ...(d.reason ? { reason: d.reason } : {}) }, meta, d.step)) as Result<DecisionView>;
          results.push(decided.ok
            ? { executionId: d.executionId, step: d.step, ok: true, status: decided.value.status, approved: d.approved }
            : { executionId: d.executionId, step: d.step, ok: false, error: { code: decided.error.code, status: decided.error.status, message: decided.error.message } });
        } catch (e) {
          if (!(e instanceof AppError)) throw e;
          results.push({ executionId: d.executionId, step: d.step, ok: false, error: { code: e.code, status: e.status, message: e.message } });
        }
      }
      return isForm ? inboxResultPage(c, viewer, results) : c.json({ viewer, results });
    } catch (e) {
      if (isForm && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  })
  .post('/:executionId', async (c) => {
    const isForm = isFormPost(c.req.header('content-type'));
    try {
      const viewer = await viewerOf(c.env, c.req.raw.headers);
      if (crossSite(c.req.raw.headers, ownOrigins(c.req.url, c.env.PUBLIC_BASE_URL), { requireEvidence: true })) {
        throw new AppError('CROSS_SITE_REQUEST', 'a decision made as your Cloudflare Access identity must come from this site\'s own pages', 403);
      }
      const body = validated(DecisionBody, await readBody(c, CallbackBody, true));
      const meta = { ip: c.req.header('cf-connecting-ip') ?? undefined, userAgent: c.req.header('user-agent') ?? undefined, fromHtml: isForm };
      const stub = executionStub(c.env, c.req.param('executionId'));
      // Which of the run's requests (a run may wait on several): `?step=<path>`, else the first that waits on the viewer.
      const step = c.req.query('step')?.slice(0, 1000);
      // What the person decides on, read before deciding (afterwards it no longer waits on them).
      const item = isForm ? ((await stub.inboxItems(viewer)) as InboxItem[]).find((i) => step === undefined || i.step === step) : undefined;
      const view = unwrap((await stub.decideAs(viewer, body, meta, step)) as Result<DecisionView>);
      return isForm ? resultPage(c, view, '/inbox', item && { prompt: item.prompt, data: item.data, format: item.format, reason: body.reason, feedback: body.feedback }) : c.json(view);
    } catch (e) {
      if (isForm && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  });

/** Many requests across runs decided at once from the inbox, one reason for all. */
const InboxBulkBody = z.strictObject({
  decisions: z.array(z.strictObject({
    executionId: z.string().min(1).max(100),
    step: z.string().min(1).max(1000),
    approved: DecisionBody.shape.approved,
    reason: DecisionBody.shape.reason,
  })).min(1).max(MAX_ITEMS),
});

/** The inbox's bulk form: ticked items (`item` = `<executionId> <step>`), the button pressed, one reason. */
async function bulkForm(req: Request): Promise<unknown> {
  const { approved, items, reason } = await bulkDecisionForm(req, 'item');
  return {
    decisions: items.map((v) => {
      const at = v.indexOf(' ');
      return { executionId: at > 0 ? v.slice(0, at) : v, step: at > 0 ? v.slice(at + 1) : '', approved, ...(reason ? { reason } : {}) };
    }),
  };
}
