import { createApp } from './http/app';
import type { Env } from './env';
import { basePath } from './notify/notice';
import { purgeIndex } from './executions/retention';
import { configureLog } from './log';
import { runSchedules } from './triggers/cron';
import { consumeQueue } from './triggers/queue';
import { receiveEmail } from './triggers/email';
import { defaultRegistry } from './default-registry';

export { HITLState } from './hitl/hitl-state';
export { AdminGuard } from './admin/guard';
export { EventBox } from './events/event-box';

const app = createApp();

export default {
  /** Callback links live under HITL_BASE_PATH (default /callback); the app serves them at /callback. */
  fetch(request: Request, env: Env, ctx: ExecutionContext) {
    const prefix = basePath(env.HITL_BASE_PATH);
    if (prefix !== '/callback') {
      const url = new URL(request.url);
      if (url.pathname.startsWith(`${prefix}/`)) {
        url.pathname = `/callback/${url.pathname.slice(prefix.length + 1)}`;
        return app.fetch(new Request(url, request), env, ctx);
      }
      if (url.pathname.startsWith('/callback/')) return app.fetch(new Request(new URL('/__none', url), request), env, ctx);
    }
    return app.fetch(request, env, ctx);
  },
  /**
   * wrangler.toml's cron wakes the Worker every minute: the ensembles' `type: cron` triggers are
   * matched against the scheduled time (src/triggers/cron.ts); once an hour the executions index
   * forgets finished runs past their retention.
   */
  async scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext) {
    configureLog(env.LOG_LEVEL);
    if (new Date(controller.scheduledTime).getUTCMinutes() === 17 || controller.cron === '17 * * * *') ctx.waitUntil(purgeIndex(env));
    await runSchedules(env, defaultRegistry(env), controller.scheduledTime, (work) => ctx.waitUntil(work));
  },
  /** A Cloudflare Queue this Worker consumes: each message starts a run (src/triggers/queue.ts). */
  async queue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) {
    configureLog(env.LOG_LEVEL);
    await consumeQueue(batch, env, defaultRegistry(env), (work) => ctx.waitUntil(work));
  },
  /** Email Routing: a message to an ensemble's address starts a run (src/triggers/email.ts). */
  async email(message: ForwardableEmailMessage, env: Env, ctx: ExecutionContext) {
    configureLog(env.LOG_LEVEL);
    await receiveEmail(message, env, defaultRegistry(env), (work) => ctx.waitUntil(work));
  },
} satisfies ExportedHandler<Env>;
