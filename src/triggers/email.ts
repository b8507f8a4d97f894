import PostalMime from 'postal-mime';
import type { Env } from '../env';
import type { EnsembleRegistry } from '../ensemble/registry';
import { LIMITS } from '../limits';
import { log } from '../log';
import { addressMatches } from './schema';
import { startOnce } from './start-once';

// An Email Worker message (Email Routing) starts the run of the ensemble whose `type: email`
// trigger lists its address: `input.email = { from, to, subject, text, messageId }`. Mail no
// ensemble takes (or from a sender it does not allow) is rejected, never dropped in silence.

export async function receiveEmail(message: ForwardableEmailMessage, env: Env, registry: EnsembleRegistry, waitUntil?: (work: Promise<unknown>) => void): Promise<void> {
  const to = message.to;
  const from = message.from;
  const target = registry.triggered('email').find((t) => t.trigger.addresses.some((a) => addressMatches(a, to)));
  if (!target) {
    message.setReject(`no ensemble receives mail for ${to}`);
    return;
  }
  const { ensemble, trigger } = target;
  if (trigger.from && !trigger.from.some((f) => addressMatches(f, from))) {
    log('email-refused', { ensemble: ensemble.name, to, reason: 'sender not allowed' }, 'warn');
    message.setReject('this address does not take mail from this sender');
    return;
  }
  if (message.rawSize > LIMITS.emailBytes) {
    message.setReject(`the message is ${message.rawSize} bytes (limit ${LIMITS.emailBytes})`);
    return;
  }
  let parsed;
  try {
    parsed = await PostalMime.parse(message.raw);
  } catch (e) {
    log('email-unreadable', { ensemble: ensemble.name, to, error: e instanceof Error ? e.message : String(e) }, 'warn');
    message.setReject('the message could not be read (MIME)');
    return;
  }
  const text = (parsed.text ?? '').slice(0, LIMITS.emailTextChars);
  const messageId = (parsed.messageId ?? message.headers.get('message-id') ?? '').slice(0, 250);
  const input = ensemble.inputSchema.safeParse({ email: { from, to, subject: (parsed.subject ?? '').slice(0, 1000), text, messageId } });
  if (!input.success) {
    message.setReject(`the message does not fit the inputs of '${ensemble.name}'`);
    return;
  }
  let r;
  try {
    // The Message-ID (with its sender: anyone can write any Message-ID) is the start's key: a
    // message delivered twice starts one run.
    r = await startOnce(ensemble, input.data, { type: 'email', key: messageId ? `email:${from.toLowerCase()}:${messageId}` : undefined, detail: to }, {
      env, scripts: registry.scripts, kinds: registry.kinds, origin: env.PUBLIC_BASE_URL ?? 'http://127.0.0.1:8787', waitUntil,
    });
  } catch (e) {
    log('email-start-failed', { ensemble: ensemble.name, to, error: e instanceof Error ? e.message : String(e) }, 'error');
    message.setReject('the run could not be started just now: send the message again');
    return;
  }
  if (r.kind === 'claimed-before' && r.claim.kind === 'mismatch') message.setReject('another message with this Message-ID was received: give each message its own');
  // Under way (or a start that died holds the key): a temporary failure, so the sender tries again.
  if (r.kind === 'claimed-before' && r.claim.kind === 'busy') throw new Error('this message is still being received: try again shortly');
}
