import { createApp } from './http/app';
import type { Env } from './env';
import { basePath } from './notify/notice';
import { purgeIndex } from './executions/retention';
import { configureLog } from './log';

export { HITLState } from './hitl/hitl-state';
export { AdminGuard } from './admin/guard';

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
  /** The hourly cron (wrangler.toml [triggers]): retention of the executions index. */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext) {
    configureLog(env.LOG_LEVEL);
    ctx.waitUntil(purgeIndex(env));
  },
} satisfies ExportedHandler<Env>;
