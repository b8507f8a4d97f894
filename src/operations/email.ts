import { z } from 'zod';
import { StepError } from '../errors';
import { NotifyError } from '../notify/channel';
import { headerSafe } from '../notify/escape';
import { isEmail, parseAddress, sendMail } from '../notify/mailchannels';
import { defineOperation } from './operation';

const addresses = z.union([z.string(), z.array(z.string())]);

/** `operation: email`: one message through the MailChannels client the HITL email channel uses. */
export const email = defineOperation({
  config: z.strictObject({
    to: addresses.meta({ description: 'recipients: one address, a comma-separated list, or a list', examples: ['ops@example.com'] }),
    subject: z.string().min(1).describe('the subject line'),
    body: z.string().optional().describe('plain text; defaults to the subject'),
    html: z.string().optional().describe('an HTML part, sent as given'),
    from: z.string().optional().describe('default EMAIL_FROM'),
    cc: addresses.optional().describe('copy recipients'),
  }),
  async run({ config, env }) {
    const list = (v: string | string[] | undefined) => (v === undefined ? [] : (Array.isArray(v) ? v : v.split(','))).map((a) => a.trim()).filter(Boolean);
    const to = list(config.to);
    const bad = [...to, ...list(config.cc)].filter((a) => !isEmail(a));
    if (to.length === 0) throw new StepError('EMAIL_INVALID', 'email: `to` is empty (is the env var behind it set?)');
    if (bad.length) throw new StepError('EMAIL_INVALID', `email: not an email address: ${bad.join(', ')}`);
    const from = config.from ?? env.EMAIL_FROM;
    if (!from) throw new StepError('EMAIL_INVALID', 'email: set config.from or EMAIL_FROM');
    try {
      await sendMail(env, {
        personalizations: [{ to: to.map(parseAddress), ...(config.cc ? { cc: list(config.cc).map(parseAddress) } : {}) }],
        from: parseAddress(from),
        subject: headerSafe(config.subject),
        content: [
          { type: 'text/plain', value: config.body ?? config.subject },
          ...(config.html ? [{ type: 'text/html' as const, value: config.html }] : []),
        ],
      });
    } catch (e) {
      if (e instanceof NotifyError) throw new StepError('EMAIL_FAILED', e.message, { cause: e });
      throw e;
    }
    return { sent: true, to, subject: config.subject };
  },
});
