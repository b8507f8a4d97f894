import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. */
export interface Received {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json?: unknown;
  at: number;
}

/**
 * A small HTTP server on 127.0.0.1 standing in for Slack, MailChannels, webhooks, model APIs and
 * any endpoint an `http` step calls. It records every request (GET /_received?path=... lists them)
 * and answers by path:
 *   POST /_serve          `{path, status?, body}`: from then on <path> answers that (e.g. a JWKS)
 *   POST /_slack/users    `{ U123: { email } }`: users the Slack stand-in knows
 *   /slack-api/<method>   a Slack Web API stand-in: chat.postMessage, chat.update, views.open,
 *                         users.info (form `user=`); `ok: false` for channel `C_MISSING` or unknown users
 *   /big/<bytes>          200 with a JSON body of about <bytes> bytes (`{ data: "xxx…" }`)
 *   /status/<code>        answers <code> with a JSON body
 *   /flaky/<key>/<n>      answers 503 the first <n> times for <key>, then 200
 *   /slow/<ms>            answers after <ms>
 *   /slow-once/<key>/<ms> answers after <ms> the first time for <key>, at once after that
 *   .../chat/completions  an OpenAI-compatible model (see modelReply)
 *   .../v1/messages       an Anthropic Messages API model (see modelReply)
 *   anything else         200 echoing `{ method, path, body }`
 */
export async function startReceiver(): Promise<{ url: string; server: Server; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const flaky = new Map<string, number>();
  const served = new Map<string, { status: number; body: unknown }>();
  const slackUsers = new Map<string, { email?: string }>();
  let slackTs = 0;
  const server = createServer(async (req, res) => {
    const body = await readAll(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/_received') {
      const path = url.searchParams.get('path');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(received.filter((r) => !path || r.path.startsWith(path))));
      return;
    }
    let json: unknown;
    try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
    if (url.pathname === '/_serve') {
      const { path, status, body: answer } = json as { path: string; status?: number; body: unknown };
      served.set(path, { status: status ?? 200, body: answer });
      res.end('{}');
      return;
    }
    if (url.pathname === '/_slack/users') {
      for (const [id, user] of Object.entries(json as Record<string, { email?: string }>)) slackUsers.set(id, user);
      res.end('{}');
      return;
    }
    received.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body, json, at: Date.now() });
    const send = (status: number, payload: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(payload));
    };
    const fixed = served.get(url.pathname);
    if (fixed) return send(fixed.status, fixed.body);
    if (url.pathname.startsWith('/slack-api/')) {
      const method = url.pathname.slice('/slack-api/'.length);
      const args = (json ?? Object.fromEntries(new URLSearchParams(body))) as Record<string, any>;
      if (method === 'chat.postMessage') {
        if (args.channel === 'C_MISSING') return send(200, { ok: false, error: 'channel_not_found' });
        return send(200, { ok: true, channel: args.channel, ts: `1700000000.${String(++slackTs).padStart(6, '0')}` });
      }
      if (method === 'chat.update') return send(200, { ok: true, channel: args.channel, ts: args.ts });
      if (method === 'views.open') return send(200, { ok: true, view: { id: `V${++slackTs}` } });
      if (method === 'users.info') {
        const user = slackUsers.get(String(args.user));
        return send(200, user ? { ok: true, user: { id: args.user, profile: { ...(user.email ? { email: user.email } : {}) } } } : { ok: false, error: 'user_not_found' });
      }
      return send(200, { ok: false, error: 'unknown_method' });
    }
    if (url.pathname.endsWith('/chat/completions')) {
      const messages = (json as { messages?: { role: string; content: string }[] })?.messages ?? [];
      const prompt = messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      return send(200, { id: 'cmpl-local', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: modelReply(prompt) }, finish_reason: 'stop' }] });
    }
    if (url.pathname.endsWith('/v1/messages')) {
      const messages = (json as { messages?: { role: string; content: string }[] })?.messages ?? [];
      return send(200, { id: 'msg-local', type: 'message', role: 'assistant', content: [{ type: 'text', text: modelReply(messages.at(-1)?.content ?? '') }] });
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'status') return send(Number(parts[1]), { status: Number(parts[1]) });
    if (parts[0] === 'big') return send(200, { data: 'x'.repeat(Math.max(0, Number(parts[1]) - 11)) });
    if (parts[0] === 'flaky') {
      const key = parts[1]!;
      const seen = (flaky.get(key) ?? 0) + 1;
      flaky.set(key, seen);
      return seen <= Number(parts[2]) ? send(503, { attempt: seen }) : send(200, { attempt: seen });
    }
    if (parts[0] === 'slow-once') {
      const seen = (flaky.get(`slow:${parts[1]}`) ?? 0) + 1;
      flaky.set(`slow:${parts[1]}`, seen);
      if (seen > 1) return send(200, { attempt: seen });
      setTimeout(() => send(200, { attempt: seen }), Number(parts[2]));
      return;
    }
    if (parts[0] === 'slow') {
      setTimeout(() => send(200, { slow: true }), Number(parts[1]));
      return;
    }
    send(200, { method: req.method, path: url.pathname, body: json ?? body });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The stand-in model's answers, fixed rules so tests know what to expect:
 * - "Assess risk for <json>": a ```json fenced {"risk_score", "factors"}: 0.9 when the JSON has an
 *   amount of 10000 or more, else 0.1;
 * - "Reply in JSON ...": a bare JSON object {"echo": prompt};
 * - "Reply with invalid JSON": text that is not JSON;
 * - anything else: "Draft: <prompt>".
 */
export function modelReply(prompt: string): string {
  if (prompt.startsWith('Assess risk for')) {
    const amount = Number(/"amount":\s*(\d+(?:\.\d+)?)/.exec(prompt)?.[1] ?? 0);
    const risky = amount >= 10_000;
    return '```json\n' + JSON.stringify({ risk_score: risky ? 0.9 : 0.1, factors: risky ? ['large amount'] : [] }) + '\n```';
  }
  if (prompt.startsWith('Reply in JSON')) return JSON.stringify({ echo: prompt });
  if (prompt.startsWith('Reply with invalid JSON')) return 'Sure! Here it is: {not json';
  return `Draft: ${prompt}`;
}
