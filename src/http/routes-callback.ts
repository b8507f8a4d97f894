import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { AppError } from '../errors';
import { CallbackBody, DecisionBody, DelegationBody } from '../hitl/request';
import { unwrap, type Result } from '../hitl/result';
import type { TokenView } from '../hitl/views';
import { accessIdentity } from '../identity/access';
import { crossSite, ownOrigins } from './same-site';
import { isFormPost, readBody, validated, wantsHtml } from './body';
import { tokenStub } from './stub';
import type { AppEnv } from './types';
import { reviewPage, resultPage, errorPage, delegatedPage } from '../pages/review';
import type { DecisionView, DelegationView } from '../hitl/hitl-state';


/**
 * `/callback/:token` (the prefix is HITL_BASE_PATH). No API key: the token is the credential.
 * GET and HEAD only read; POST decides. CORS is open so custom UIs can call it from a browser.
 */
export const callbackRoutes = new Hono<AppEnv>()
  .use('*', cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'], allowHeaders: ['content-type', 'cf-access-jwt-assertion'], maxAge: 600 }))
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
