import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Env } from '../env';
import { AppError } from '../errors';

export const ACCESS_HEADER = 'cf-access-jwt-assertion';

export interface AccessConfig {
  issuer: string;
  audience: string[];
  certsUrl: string;
}

/**
 * Cloudflare Access settings, when both `ACCESS_TEAM_DOMAIN` (`myteam.cloudflareaccess.com`, with
 * or without https://) and `ACCESS_AUD` (the application's AUD tag; several may be comma-separated)
 * are set. `ACCESS_CERTS_URL` overrides where the signing keys are fetched (tests).
 */
export function accessConfig(env: Env): AccessConfig | undefined {
  const domain = typeof env.ACCESS_TEAM_DOMAIN === 'string' ? env.ACCESS_TEAM_DOMAIN.trim() : '';
  const aud = typeof env.ACCESS_AUD === 'string' ? env.ACCESS_AUD.split(',').map((a) => a.trim()).filter(Boolean) : [];
  if (!domain || aud.length === 0) return undefined;
  const issuer = `https://${domain.replace(/^https?:\/\//, '').replace(/\/+$/, '')}`;
  const certsUrl = typeof env.ACCESS_CERTS_URL === 'string' && env.ACCESS_CERTS_URL ? env.ACCESS_CERTS_URL : `${issuer}/cdn-cgi/access/certs`;
  return { issuer, audience: aud, certsUrl };
}

// One key set per certs URL per isolate: jose caches the keys, refetches on an unknown `kid`, and
// rate-limits refetches, so forged key ids cannot make us hammer the certs endpoint.
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keySet(url: string) {
  let set = keySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    keySets.set(url, set);
  }
  return set;
}

export class AccessError extends AppError {
  constructor(message: string) {
    super('ACCESS_INVALID', message, 401);
  }
}

/**
 * The email of the person a request's Access assertion names, verified (signature against the
 * team's keys, `iss`, `aud`, `exp`, `nbf`). Undefined when Access is not configured or the request
 * carries no assertion. A present but bad, expired or email-less assertion is an AccessError (401):
 * never a silent fall back to an unverified decision.
 */
export async function accessIdentity(env: Env, headers: Headers): Promise<string | undefined> {
  const config = accessConfig(env);
  const assertion = headers.get(ACCESS_HEADER);
  if (assertion === null) return undefined;
  if (!config) {
    // Half a configuration is a mistake to report, not a reason to let a typed name decide instead.
    if (env.ACCESS_TEAM_DOMAIN || env.ACCESS_AUD) throw new AccessError('Cloudflare Access is half configured: set both ACCESS_TEAM_DOMAIN and ACCESS_AUD');
    return undefined;
  }
  if (assertion.length > 16_384) throw new AccessError('Cloudflare Access assertion is too large');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(assertion, keySet(config.certsUrl), {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iat'],
      clockTolerance: 30,
    }));
  } catch (e) {
    const why = e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'invalid';
    throw new AccessError(`Cloudflare Access assertion rejected (${why})`);
  }
  const email = payload.email;
  // Service tokens carry no email: a machine cannot stand in for a person's decision.
  if (typeof email !== 'string' || !email.includes('@') || email.length > 320) throw new AccessError('Cloudflare Access assertion names no person (no email claim)');
  return email;
}
