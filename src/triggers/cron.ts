import type { Env } from '../env';
import type { EnsembleRegistry } from '../ensemble/registry';
import { log } from '../log';
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
  const fired: Fired[] = [];
  for (const { ensemble, trigger } of registry.triggered('cron')) {
    if (trigger.enabled === false || !firesAt(scheduleOf(trigger.cron, trigger.timezone), minute)) continue;
    const input = ensemble.inputSchema.safeParse(trigger.input ?? {});
    if (!input.success) {
      log('cron-input-invalid', { ensemble: ensemble.name, cron: trigger.cron, issues: input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'error');
      fired.push({ ensemble: ensemble.name, cron: trigger.cron, outcome: 'failed' });
      continue;
    }
    try {
      const r = await startOnce(ensemble, input.data, { type: 'cron', key: `cron:${trigger.cron}@${trigger.timezone ?? 'UTC'}:${minute.toISOString()}`, detail: `${trigger.cron} (${trigger.timezone ?? 'UTC'}) ${minute.toISOString()}` }, {
        env, scripts: registry.scripts, kinds: registry.kinds, origin: env.PUBLIC_BASE_URL ?? 'http://127.0.0.1:8787', waitUntil,
      });
      fired.push(r.kind === 'started'
        ? { ensemble: ensemble.name, cron: trigger.cron, executionId: r.state.executionId, outcome: 'started' }
        : { ensemble: ensemble.name, cron: trigger.cron, executionId: r.claim.executionId, outcome: 'again' });
    } catch (e) {
      log('cron-start-failed', { ensemble: ensemble.name, cron: trigger.cron, minute: minute.toISOString(), error: e instanceof Error ? e.message : String(e) }, 'error');
      fired.push({ ensemble: ensemble.name, cron: trigger.cron, outcome: 'failed' });
    }
  }
  if (fired.length) log('cron-fired', { minute: minute.toISOString(), runs: fired.map((f) => `${f.ensemble}:${f.outcome}`) });
  return fired;
}
