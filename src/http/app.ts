import { agentRoutes } from './routes-agents';
import { webhookRoutes } from '../triggers/webhook';
import { eventRoutes } from '../events/routes';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors';
import { LIMITS } from '../limits';
import { configureLog } from '../log';
import { defaultRegistry } from '../default-registry';
import type { EnsembleRegistry } from '../ensemble/registry';
import { requireApiKey } from './auth';
import { notFound, onError } from './on-error';
import { ensembleRoutes } from './routes-ensembles';
import { executionRoutes } from './routes-executions';
import { callbackRoutes } from './routes-callback';
import { slackRoutes } from './routes-slack';
import { opsRoutes } from './routes-ops';
import { adminRoutes } from '../admin/routes';
import { inboxRoutes } from './routes-inbox';
import type { AppEnv } from './types';

/** The Worker's HTTP API. `registry` is injectable so tests can run ensembles of their own. */
export function createApp(registry: (env: AppEnv['Bindings']) => EnsembleRegistry = defaultRegistry) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    configureLog(c.env.LOG_LEVEL);
    c.set('registry', registry(c.env));
    await next();
  });
  // Decisions are small; run inputs may be larger. Beyond the limit: 413 in the usual envelope.
  const limit = (maxSize: number) => bodyLimit({ maxSize, onError: () => { throw new AppError('PAYLOAD_TOO_LARGE', `request body is larger than ${maxSize} bytes`, 413); } });
  // Sizes and their reasons: src/limits.ts. A run's input is stored with the run, so the limit of
  // the body is the limit of the input.
  app.use('/callback/*', limit(LIMITS.decisionBodyBytes));
  app.use('/ensembles/*', limit(LIMITS.runInputBytes));
  app.use('/slack/*', limit(LIMITS.slackBodyBytes));
  app.use('/executions/*', limit(LIMITS.decisionBodyBytes));
  app.use('/admin/*', limit(LIMITS.decisionBodyBytes));
  app.use('/inbox/*', limit(LIMITS.decisionBodyBytes));
  app.use('/hooks/*', limit(LIMITS.runInputBytes));
  app.use('/events/*', limit(LIMITS.runInputBytes));
  app.use('/events/*', requireApiKey);
  app.use('/ensembles', requireApiKey);
  app.use('/ensembles/*', requireApiKey);
  app.use('/agents', requireApiKey);
  app.use('/executions', requireApiKey);
  app.use('/executions/*', requireApiKey);
  app.get('/', (c) => c.json({ name: 'ensemble-hitl', routes: ['GET /ensembles', 'POST /ensembles/:name', 'GET /executions/:id', 'GET|POST /callback/:token', 'POST /slack/interactions', 'GET /executions', 'POST /events/:name', 'GET /stats', 'GET /healthz', 'GET /inbox'] }));
  app.route('/ensembles', ensembleRoutes);
  app.route('/agents', agentRoutes);
  app.route('/hooks', webhookRoutes);
  app.route('/events', eventRoutes);
  app.route('/executions', executionRoutes);
  app.route('/callback', callbackRoutes);
  app.route('/slack', slackRoutes);
  app.route('/', opsRoutes);
  app.route('/admin', adminRoutes);
  app.route('/inbox', inboxRoutes);
  app.onError(onError);
  app.notFound(notFound);
  return app;
}
