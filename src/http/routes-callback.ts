import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { AppError } from '../errors';
import { CallbackBody, DecisionBody, DelegationBody } from '../hitl/request';
import { unwrap, type Result } from '../hitl/result';
import type { TokenView } from '../hitl/views';
import { accessIdentity } from '../identity/access';
import { crossSite, ownOrigins } from './same-site';
import { bulkDecisionForm, isFormPost, readBody, validated, wantsHtml } from './body';
import { tokenStub } from './stub';
import { notFound } from './on-error';
import type { AppEnv } from './types';
import { reviewPage, resultPage, errorPage, delegatedPage } from '../pages/review';
import { batchPage, batchResultPage } from '../pages/batch';
import { BatchBody } from '../hitl/batch';
import type { BatchResult, BatchView, DecisionView, DelegationView } from '../hitl/hitl-state';


/**
 * `/callback/:token` (the prefix is HITL_BASE_PATH). No API key: the token is the credential.
 * GET and HEAD only read; POST decides. CORS is open so custom UIs can call it from a browser.
 */
export const callbackRoutes = new Hono<AppEnv>()
  .use('*', cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'], allowHeaders: ['content-type', 'cf-access-jwt-assertion'], maxAge: 600 }))
  // `/batch/:token`, written as two parameters: a static `batch` segment beside `/:token` would make
  // hono fall back from its RegExpRouter to the slower TrieRouter for every route of the app.
  .get('/:kind/:token', async (c) => {
    const token = c.req.param('token');
    if (c.req.param('kind') !== 'batch') return notFound(c);
    const html = wantsHtml(c.req.header('accept'));
    try {
      const viewer = await accessIdentity(c.env, c.req.raw.headers);
      const view = unwrap((await tokenStub(c.env, token).inspectBatch(token, viewer)) as Result<BatchView>);
      if (!html) return c.json(view);
      const action = c.req.query('action');
      return batchPage(c, view, action === 'approve' || action === 'reject' ? action : undefined);
    } catch (e) {
      if (html && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  })
  .post('/:kind/:token', async (c) => {
    const token = c.req.param('token');
    if (c.req.param('kind') !== 'batch') return notFound(c);
    const isForm = isFormPost(c.req.header('content-type'));
    try {
      const viewer = await accessIdentity(c.env, c.req.raw.headers);
      if (viewer !== undefined && crossSite(c.req.raw.headers, ownOrigins(c.req.url, c.env.PUBLIC_BASE_URL), { requireEvidence: true })) {
        throw new AppError('CROSS_SITE_REQUEST', 'a decision made as your Cloudflare Access identity must come from this site\'s own review page', 403);
      }
      const body = isForm ? validated(BatchBody, await batchForm(c.req.raw)) : await readBody(c, BatchBody);
      const meta = { ip: c.req.header('cf-connecting-ip') ?? c.req.header('x-forwarded-for') ?? undefined, userAgent: c.req.header('user-agent') ?? undefined, fromHtml: isForm };
      const result = unwrap((await tokenStub(c.env, token).decideBatch(token, body, meta, viewer)) as Result<BatchResult>);
      return isForm ? batchResultPage(c, result, new URL(c.req.url).pathname) : c.json(result);
    } catch (e) {
      if (isForm && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  })
  .get('/:token', async (c) => {
    const token = c.req.param('token');
    const html = wantsHtml(c.req.header('accept'));
    try {
      const viewer = await accessIdentity(c.env, c.req.raw.headers);
      const view = unwrap((await tokenStub(c.env, token).inspect(token, viewer)) as Result<TokenView>);
      if (!html) return c.json(view);
      const action = c.req.query('action');
      return reviewPage(c, view, action === 'approve' || action === 'reject' ? action : undefined);
    } catch (e) {
      if (html && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  })
  .post('/:token', async (c) => {
    const token = c.req.param('token');
    const isForm = isFormPost(c.req.header('content-type'));
    try {
      // Verified before the body is read: a bad assertion is 401 whatever the body says.
      const viewer = await accessIdentity(c.env, c.req.raw.headers);
      if (viewer !== undefined && crossSite(c.req.raw.headers, ownOrigins(c.req.url, c.env.PUBLIC_BASE_URL), { requireEvidence: true })) {
        throw new AppError('CROSS_SITE_REQUEST', 'a decision made as your Cloudflare Access identity must come from this site\'s own review page', 403);
      }
      const raw = await readBody(c, CallbackBody, true);
      const meta = { ip: c.req.header('cf-connecting-ip') ?? c.req.header('x-forwarded-for') ?? undefined, userAgent: c.req.header('user-agent') ?? undefined, fromHtml: isForm };
      const stub = tokenStub(c.env, token);
      // A delegation names who takes over; anything else is a decision (`approved` required).
      if ('delegateTo' in raw) {
        const view = unwrap((await stub.delegate(token, validated(DelegationBody, raw), meta, viewer)) as Result<DelegationView>);
        return isForm ? delegatedPage(c, view) : c.json(view);
      }
      const body = validated(DecisionBody, raw);
      const view = unwrap((await stub.decide(token, body, meta, viewer)) as Result<DecisionView>);
      if (!isForm) return c.json(view);
      // The page repeats what was decided on: read back through the (now spent) link, which reads only.
      const seen = (await stub.inspect(token, viewer)) as Result<TokenView>;
      return resultPage(c, view, undefined, seen.ok ? { prompt: seen.value.prompt, data: seen.value.data, format: seen.value.format, reason: body.reason, feedback: body.feedback } : undefined);
    } catch (e) {
      if (isForm && e instanceof AppError) return errorPage(c, e);
      throw e;
    }
  });

/**
 * The batch page's forms as a batch body: the ticked items (`request`, repeated), the button
 * pressed (`action`), one reason, and, from an item's own form, its answers (`response.<field>`).
 */
async function batchForm(req: Request): Promise<unknown> {
  const { data, approved, items, reason } = await bulkDecisionForm(req, 'request');
  const ids = items.map((v) => (/^\d{1,15}$/.test(v) ? Number(v) : NaN));
  if (ids.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new AppError('INVALID_FORM', 'an item of this form is not one of the page', 400);
  // Answers come only from one item's own form: a bulk decision sends none.
  const response: Record<string, unknown> = Object.create(null);
  for (const [k, v] of data.entries()) {
    if (!k.startsWith('response.') || typeof v !== 'string') continue;
    const field = k.slice('response.'.length);
    // Never a key a plain object would take for its prototype: refused, not dropped.
    if (field === '__proto__' || field === 'constructor' || field === 'prototype') throw new AppError('INVALID_FORM', `'${field}' is not a field of this form`, 400);
    response[field] = v;
  }
  const hasResponse = Object.keys(response).length > 0;
  if (hasResponse && ids.length !== 1) throw new AppError('INVALID_FORM', 'form answers go with one item at a time', 400);
  return {
    decisions: ids.map((request) => ({
      request,
      approved,
      ...(reason ? { reason } : {}),
      ...(hasResponse ? { response: { ...response } } : {}),
    })),
  };
}
