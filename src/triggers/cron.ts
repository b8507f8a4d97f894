import type { Env } from '../env';
import type { EnsembleRegistry } from '../ensemble/registry';
import { log } from '../log';
import { LIMITS } from '../limits';
import { firesAt, scheduleOf } from './schema';
import { startOnce } from './start-once';

// Each scheduled event (wrangler.toml's Cloudflare cron wakes the Worker every minute) is matched
// against every ensemble's `type: cron` triggers, in each trigger's time zone. A given ensemble
// starts at most once per scheduled minute: the minute is the start's key, so an event delivered
// twice starts nothing new. Missed minutes are not run afterwards.

export interface Fired {
  ensemble: string;
  cron: string;
  executionId?: string;
  /** started; again (the minute's run exists); failed (logged). */
  outcome: 'started' | 'again' | 'failed';
}

export async function runSchedules(env: Env, registry: EnsembleRegistry, scheduledTime: number, waitUntil?: (work: Promise<unknown>) => void): Promise<Fired[]> {
  const minute = new Date(Math.floor(scheduledTime / 60_000) * 60_000);
  const due = registry.triggered('cron')
    .map((t) => ({ ...t, i: t.ensemble.triggers!.indexOf(t.trigger) }))
    .filter(({ trigger }) => trigger.enabled !== false && firesAt(scheduleOf(trigger.cron, trigger.timezone), minute));
  // Started side by side, a few at a time: a slow run (its steps run in this invocation) holds
  // back no other, and a thousand schedules due at one minute do not open a thousand requests at once.
  const fired = await inPool(due, LIMITS.cronConcurrency, async ({ ensemble, trigger, i }): Promise<Fired> => {
    const input = ensemble.inputSchema.safeParse(trigger.input ?? {});
    if (!input.success) {
      log('cron-input-invalid', { ensemble: ensemble.name, cron: trigger.cron, issues: input.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`) }, 'error');
      return { ensemble: ensemble.name, cron: trigger.cron, outcome: 'failed' };
    }
    try {
      // The trigger's place in the list is in the key: two triggers of one ensemble at the same
      // minute are two runs; the same event delivered twice is one.
      const r = await startOnce(ensemble, input.data, { type: 'cron', key: `cron:${i}:${trigger.cron}@${trigger.timezone ?? 'UTC'}:${minute.toISOString()}`, detail: `${trigger.cron} (${trigger.timezone ?? 'UTC'}) ${minute.toISOString()}` }, {
        env, scripts: registry.scripts, kinds: registry.kinds, origin: env.PUBLIC_BASE_URL ?? 'http://127.0.0.1:8787', waitUntil,
      });
      if (r.kind === 'started') return { ensemble: ensemble.name, cron: trigger.cron, executionId: r.state.executionId, outcome: 'started' };
      if (r.claim.kind === 'mismatch') return { ensemble: ensemble.name, cron: trigger.cron, executionId: r.claim.executionId, outcome: 'failed' };
      return { ensemble: ensemble.name, cron: trigger.cron, executionId: r.claim.executionId, outcome: 'again' };
    } catch (e) {
      log('cron-start-failed', { ensemble: ensemble.name, cron: trigger.cron, minute: minute.toISOString(), error: e instanceof Error ? e.message : String(e) }, 'error');
      return { ensemble: ensemble.name, cron: trigger.cron, outcome: 'failed' };
    }
  });
  if (fired.length) log('cron-fired', { minute: minute.toISOString(), runs: fired.map((f) => `${f.ensemble}:${f.outcome}`) });
  return fired;
}

/** `work` over `items`, at most `size` at once, results in item order. */
async function inPool<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const at = next++;
      out[at] = await work(items[at]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, lane));
  return out;
}
