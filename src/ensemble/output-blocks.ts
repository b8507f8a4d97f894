import type { Path } from '../expression/template';

// Conductor's output blocks as the loader reads them: which `output:` values are blocks, and
// which headers a block may set. The interpreter picks a block when the run ends (finish()).

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const BLOCK_KEYS = new Set(['when', 'status', 'headers', 'body', 'rawBody', 'redirect', 'format']);
export const UNSUPPORTED_BLOCK_KEYS: Record<string, string> = {
  rawBody: 'the body is sent as JSON; return text as a JSON string',
  redirect: 'answer with `status: 303` and a `Location` header instead',
  format: 'the body is sent as JSON (make text such as CSV or YAML in a step, e.g. with the transform operation, and answer it as a JSON string)',
};

/**
 * Conductor's output blocks: a list of `{ when, status, headers, body }` (the first whose \`when\`
 * holds answers), or one \`{ status, headers, body }\` with a literal status. Anything else is a plain output.
 */
export function outputBlocks(output: unknown): { block: Record<string, unknown>; path: Path }[] | undefined {
  const isBlock = (v: unknown): v is Record<string, unknown> => isPlainObject(v) && ('body' in v || 'status' in v) && Object.keys(v).every((k) => BLOCK_KEYS.has(k));
  if (Array.isArray(output) && output.length > 0 && output.every(isBlock)) return output.map((block, i) => ({ block, path: ['output', i] }));
  if (isBlock(output) && 'body' in output && typeof output.status === 'number' && !('when' in output)) return [{ block: output, path: ['output'] }];
  return undefined;
}

/** Headers an ensemble may not set: the Worker's own, and cookies (the console's session lives on this origin). */
const RESERVED_HEADERS = new Set([
  'set-cookie', 'content-length', 'content-type', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade',
  'x-execution-id', 'idempotent-replayed', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-headers',
  'access-control-allow-methods', 'access-control-expose-headers', 'content-security-policy', 'strict-transport-security',
  'clear-site-data', 'refresh', 'www-authenticate', 'proxy-authenticate',
]);

export function headerNameProblem(name: string): string | undefined {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/.test(name)) return `'${name.slice(0, 40)}' is not a header name`;
  if (RESERVED_HEADERS.has(name.toLowerCase())) return `an ensemble cannot set the '${name}' header`;
  return undefined;
}

