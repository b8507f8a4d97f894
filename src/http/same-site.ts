// Whether a browser request comes from this Worker's own pages: the CSRF check of every form whose
// identity is ambient (an Access cookie turned into a header, the console's session cookie).

/**
 * True when a request was sent from another site. A browser attaches the Access cookie (which the
 * edge turns into the assertion) to whatever page makes it POST, so an identity that comes from
 * the browser needs the request to come from our own pages (CSRF); a token alone did not.
 */
export function crossSite(headers: Headers, own: string[], opts: { requireEvidence?: boolean } = {}): boolean {
  // Browsers set Sec-Fetch-Site and no page can forge it; our pages send no referrer, which makes
  // the browser's Origin `null` even on our own forms, so Origin is only the fallback of old clients.
  const site = headers.get('sec-fetch-site');
  if (site !== null) return site !== 'same-origin' && site !== 'none';
  const origin = headers.get('origin');
  // Where the credential rides along by itself (a Cloudflare Access session), a request that shows
  // no evidence of where it came from counts as cross-site.
  if (origin === null) return !!opts.requireEvidence;
  return !own.includes(origin);
}

/** The origins this Worker's own pages are served from: the request's, and PUBLIC_BASE_URL's. */
export function ownOrigins(url: string, publicBaseUrl: unknown): string[] {
  const origins = [new URL(url).origin];
  if (typeof publicBaseUrl === 'string' && URL.canParse(publicBaseUrl)) origins.push(new URL(publicBaseUrl).origin);
  return origins;
}
