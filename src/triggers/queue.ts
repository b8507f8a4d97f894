import type { Env } from '../env';
import type { EnsembleRegistry } from '../ensemble/registry';
import { log } from '../log';
import { startOnce } from './start-once';
import { bodyProblem } from '../http/body';

// A Cloudflare Queue this Worker consumes (`trigger: - type: queue`): each message body is a run's
// input. A message is acknowledged once its run has started (or had started: the message id is
// the start's key, so a redelivery starts nothing new); anything else is retried by the queue,
// and ends in its dead-letter queue after the queue's retries (wrangler.toml).

export async function consumeQueue(batch: MessageBatch<unknown>, env: Env, registry: EnsembleRegistry, waitUntil?: (work: Promise<unknown>) => void): Promise<void> {
  const targets = registry.triggered('queue').filter((t) => t.trigger.queue === batch.queue);
  for (const message of batch.messages) {
    if (targets.length === 0) {
      log('queue-unclaimed', { queue: batch.queue, message: message.id }, 'error');
      message.retry();
      continue;
    }
    let ok = true;
    let delaySeconds: number | undefined;
    // The checks of a request body: nesting and `__proto__` (a message is a run's input as much).
    const unsafe = bodyProblem(message.body);
    if (unsafe) {
      log('queue-input-invalid', { queue: batch.queue, message: message.id, issues: [unsafe] }, 'error');
      message.retry();
      continue;
    }
    for (const { ensemble } of targets) {
      const body = message.body;
      const input = body !== null && typeof body === 'object' && !Array.isArray(body) ? ensemble.inputSchema.safeParse(body) : undefined;
      if (!input?.success) {
        log('queue-input-invalid', { queue: batch.queue, message: message.id, ensemble: ensemble.name, issues: input ? input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) : ['the message body is not a JSON object'] }, 'error');
        ok = false;
        continue;
      }
      try {
        const r = await startOnce(ensemble, input.data, { type: 'queue', key: `queue:${message.id}`, detail: batch.queue }, {
          env, scripts: registry.scripts, kinds: registry.kinds, origin: env.PUBLIC_BASE_URL ?? 'http://127.0.0.1:8787', waitUntil,
        });
        // A start under way (or one that died and holds the key until its lease ends): not done yet.
        if (r.kind === 'claimed-before' && r.claim.kind === 'busy') {
          ok = false;
          delaySeconds = Math.max(delaySeconds ?? 0, r.claim.retryAfterS);
        }
      } catch (e) {
        log('queue-start-failed', { queue: batch.queue, message: message.id, ensemble: ensemble.name, error: e instanceof Error ? e.message : String(e) }, 'error');
        ok = false;
      }
    }
    if (ok) message.ack();
    else message.retry(delaySeconds ? { delaySeconds } : undefined);
  }
}
