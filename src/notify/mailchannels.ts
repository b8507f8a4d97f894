import { z } from 'zod';
import type { Env } from '../env';
import { NotifyError, postJson } from './channel';
import { headerSafe } from './escape';

const DEFAULT_URL = 'https://api.mailchannels.net/tx/v1/send';

/** A MailChannels Email API message (the subset we send); the schema is the wire contract. */
export const MailMessage = z.object({
  personalizations: z.array(z.object({
    to: z.array(z.object({ email: z.string(), name: z.string().optional() })).min(1),
    cc: z.array(z.object({ email: z.string(), name: z.string().optional() })).optional(),
    dynamic_template_data: z.record(z.string(), z.string()).optional(),
  })).min(1).max(1000),
  from: z.object({ email: z.string(), name: z.string().optional() }),
  subject: z.string(),
  content: z.array(z.object({ type: z.enum(['text/plain', 'text/html']), value: z.string(), template_type: z.literal('mustache').optional() })).min(1),
});
export type MailMessage = z.infer<typeof MailMessage>;

/** True when the email channel and `operation: email` can send. */
export const mailConfigured = (env: Env) => typeof env.MAILCHANNELS_API_KEY === 'string' && env.MAILCHANNELS_API_KEY !== '';

/**
 * The one MailChannels client (HITL email channel and `operation: email`): POST /tx/v1/send with
 * `X-Api-Key`; `MAILCHANNELS_API_URL` overrides the endpoint. Throws a NotifyError on failure.
 */
export async function sendMail(env: Env, message: MailMessage): Promise<void> {
  if (!mailConfigured(env)) throw new NotifyError('MAILCHANNELS_API_KEY is not set');
  const url = typeof env.MAILCHANNELS_API_URL === 'string' && env.MAILCHANNELS_API_URL ? env.MAILCHANNELS_API_URL : DEFAULT_URL;
  await postJson(url, JSON.stringify(MailMessage.parse(message)), { 'x-api-key': env.MAILCHANNELS_API_KEY! });
}

/** `"Name <a@b.c>"` or `"a@b.c"` as a MailChannels address. */
export function parseAddress(value: string): { email: string; name?: string } {
  const m = /^\s*([\s\S]*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(value);
  // A display name is a header field: no line breaks of any kind.
  const name = m?.[1] ? headerSafe(m[1].replace(/^"|"$/g, '')) : '';
  return m ? { email: m[2]!, ...(name ? { name } : {}) } : { email: value.trim() };
}

export const isEmail = (value: string) => /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(parseAddress(value).email);
