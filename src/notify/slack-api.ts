import { z } from 'zod';
import type { Env } from '../env';
import { NotifyError } from './channel';

const DEFAULT_API = 'https://slack.com/api';

/**
 * Slack app mode: both secrets are set and the step names a channel to post to. Without a channel
 * (or without the secrets) the slack channel uses an incoming webhook as before.
 */
export function slackAppConfigured(env: Env, config: { channel?: unknown } = {}): boolean {
  return slackSecrets(env) !== undefined && typeof config.channel === 'string' && config.channel.trim() !== '';
}

/** The app's secrets, when both are set (the interactions route needs the signing secret too). */
export function slackSecrets(env: Env): { botToken: string; signingSecret: string } | undefined {
  const botToken = typeof env.SLACK_BOT_TOKEN === 'string' ? env.SLACK_BOT_TOKEN : '';
  const signingSecret = typeof env.SLACK_SIGNING_SECRET === 'string' ? env.SLACK_SIGNING_SECRET : '';
  return botToken && signingSecret ? { botToken, signingSecret } : undefined;
}

/** Every Web API answer has `ok`; failures carry `error` (e.g. `channel_not_found`). */
const ApiAnswer = z.looseObject({ ok: z.boolean(), error: z.string().optional() });

/**
 * Calls a Slack Web API method with the bot token. Writes go as JSON; reads (`users.info`) as a
 * form, which every method accepts. Throws a NotifyError for a network error, a non-2xx answer or
 * `ok: false`, so the outbox retries it like any other notification.
 */
export async function slackApi<T extends z.ZodType>(env: Env, method: string, args: Record<string, unknown>, answer: T, form = false, timeoutMs = 10_000): Promise<z.infer<T>> {
  const token = typeof env.SLACK_BOT_TOKEN === 'string' ? env.SLACK_BOT_TOKEN : '';
  if (!token) throw new NotifyError('SLACK_BOT_TOKEN is not set');
  const base = (typeof env.SLACK_API_URL === 'string' && env.SLACK_API_URL ? env.SLACK_API_URL : DEFAULT_API).replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8' },
      body: form ? new URLSearchParams(Object.entries(args).map(([k, v]) => [k, String(v)])).toString() : JSON.stringify(args),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new NotifyError(`Slack ${method} failed: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, { cause });
  }
  const text = await res.text();
  if (!res.ok) throw new NotifyError(`Slack ${method} answered ${res.status}`, res.status);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new NotifyError(`Slack ${method} answered something that is not JSON`);
  }
  const head = ApiAnswer.safeParse(body);
  if (!head.success) throw new NotifyError(`Slack ${method} answered an unexpected shape`);
  if (!head.data.ok) throw new NotifyError(`Slack ${method} failed: ${head.data.error ?? 'unknown error'}`);
  const parsed = answer.safeParse(body);
  if (!parsed.success) throw new NotifyError(`Slack ${method} answered an unexpected shape`);
  return parsed.data;
}

export const PostedMessage = z.looseObject({ channel: z.string(), ts: z.string() });

const UserInfo = z.looseObject({
  user: z.looseObject({ id: z.string(), deleted: z.boolean().optional(), is_bot: z.boolean().optional(), profile: z.looseObject({ email: z.string().optional() }).optional() }),
});

/**
 * A Slack user's verified names: `slack:<id>` always, and their profile email when Slack shares it
 * (`users:read.email`). Without an email (a failed lookup, a deleted user, a bot) they can only
 * match by id, and `lookupError` says why.
 */
export async function slackUserNames(env: Env, userId: string): Promise<{ names: string[]; lookupError?: string }> {
  const names = [`slack:${userId}`];
  try {
    // Short: an interaction must be answered within Slack's 3 seconds.
    const { user } = await slackApi(env, 'users.info', { user: userId }, UserInfo, true, 2_000);
    if (!user.deleted && !user.is_bot && user.profile?.email) return { names: [...names, user.profile.email] };
    return { names, lookupError: 'Slack shares no email for this user (deleted, a bot, or the app lacks users:read.email)' };
  } catch (e) {
    return { names, lookupError: e instanceof Error ? e.message : String(e) };
  }
}
