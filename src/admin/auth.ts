import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors';
import { accessConfig, accessIdentity } from '../identity/access';
import { crossSite, ownOrigins } from '../http/same-site';
import { bearerKey, isApiKey } from '../http/auth';
import { normalizeIdentity } from '../identity/normalize';
import type { AppEnv } from '../http/types';
import { readSession, signedSession, validCsrf } from './session';
import { guardOf } from './guard';

/** Who is using the console, and the principal their CSRF token is bound to (none for a bearer key). */
export interface Operator {
  by: 'key' | 'session' | 'access';
  principal?: string;
  name: string;
}

/**
 * The console admits the API key as a bearer header, a session cookie from the login form, or a
 * Cloudflare Access identity listed in ADMIN_EMAILS when ACCESS_* is configured. Unknown visitors of a page are sent to the
 * login form. Forms (POST) from a cookie or Access session must carry the CSRF token and come from
 * this site; a bearer header is not ambient, so it needs neither.
 */
export const adminAuth: MiddlewareHandler<AppEnv & { Variables: { operator: Operator } }> = async (c, next) => {
  const key = c.env.API_KEY;
  if (!key) throw new AppError('API_KEY_NOT_CONFIGURED', 'API_KEY is not set: the console is closed', 503);
  const path = new URL(c.req.url).pathname;
  if (path === '/admin/login') return next();
  let operator: Operator | undefined;
  const bearer = bearerKey(c.req.header('authorization'));
  if (bearer !== undefined && isApiKey(bearer, key)) operator = { by: 'key', name: 'using the API key (bearer header)' };
  const session = readSession(c.req.header('cookie'));
  const hash = operator ? undefined : signedSession(key, session);
  // Signed by this key and not expired, and still signed in (signing out deletes its row).
  if (hash && await guardOf(c.env).active(hash)) operator = { by: 'session', principal: session, name: 'signed in with the API key' };
  // Access proves who someone is, not that they operate this Worker (approvers sign in through the
  // same Access): only identities listed in ADMIN_EMAILS are operators.
  const admins = typeof c.env.ADMIN_EMAILS === 'string' ? c.env.ADMIN_EMAILS.split(',').map((e) => normalizeIdentity(e)).filter(Boolean) : [];
  if (!operator && accessConfig(c.env) && admins.length) {
    const email = await accessIdentity(c.env, c.req.raw.headers);
    if (email && admins.includes(normalizeIdentity(email))) operator = { by: 'access', principal: email, name: `signed in as ${email}` };
  }
  if (!operator) {
    if (c.req.method === 'GET') return c.redirect('/admin/login', 303);
    throw new AppError('UNAUTHORIZED', 'sign in to the console first', 401);
  }
  if (c.req.method === 'POST' && operator.principal) {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (crossSite(c.req.raw.headers, ownOrigins(c.req.url, c.env.PUBLIC_BASE_URL)) || !validCsrf(key, operator.principal, form.csrf)) {
      throw new AppError('CSRF', 'this form is not from the console (missing or wrong CSRF token): reload the page and try again', 403);
    }
  }
  c.set('operator', operator);
  await next();
};
