// The one HTTP client of the CLI: base URL, API key, the error envelope, and plain errors for
// the two common failures (server down, key refused).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export class CliError extends Error {
  /** The API's error envelope (`{ error: { code, message, details } }`), when the server sent one. */
  constructor(message, envelope) {
    super(message);
    this.envelope = envelope;
  }
}

/** The key: API_KEY from the environment, else from .dev.vars (what `npm start` created). */
export function apiKey() {
  if (process.env.API_KEY) return process.env.API_KEY;
  const file = `${root}.dev.vars`;
  const found = existsSync(file) ? /^API_KEY\s*=\s*"?([^"\n]+)"?/m.exec(readFileSync(file, 'utf8'))?.[1] : undefined;
  if (!found) throw new CliError('no API key: set API_KEY, or run `npm start` once to create .dev.vars');
  return found.trim();
}

export function client(url) {
  const base = url.replace(/\/+$/, '');
  return async function call(method, path, body) {
    let res;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${apiKey()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`cannot reach ${base}: is the Worker running? (npm start, or --url)`);
    }
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : {}; } catch { throw new CliError(`${method} ${path} answered ${res.status} with something that is not JSON`); }
    if (res.status === 401) throw new CliError('the API key was refused: check API_KEY or .dev.vars');
    if (res.status === 503 && json.error?.code === 'API_KEY_NOT_CONFIGURED') throw new CliError('the Worker has no API_KEY configured');
    if (!res.ok && res.status !== 202) throw new CliError(`${json.error?.code ?? res.status}: ${json.error?.message ?? text}${detailLines(json.error?.details)}`, json.error ? json : undefined);
    return json;
  };
}

/** The details of an API error as lines people read: zod issues as `path: message`, problems as file:line:col. */
function detailLines(details) {
  if (details === undefined || details === null) return '';
  const items = Array.isArray(details) ? details : [details];
  const lines = items.slice(0, 50).map((d) => {
    if (d && typeof d === 'object') {
      if ('file' in d && 'line' in d) return `${d.file}:${d.line}:${d.column}: ${d.message}`;
      if ('message' in d) return `${d.path ? `${d.path || '(input)'}: ` : d.step ? `step ${d.step}: ` : ''}${d.code && !d.path ? `${d.code}: ` : ''}${d.message}`;
    }
    return JSON.stringify(d);
  });
  if (items.length > 50) lines.push(`... ${items.length - 50} more`);
  return lines.map((l) => `\n  ${l}`).join('');
}
