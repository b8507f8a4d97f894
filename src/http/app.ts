import { Hono } from 'hono';
import { defaultRegistry } from '../ensemble/default-registry';
import type { EnsembleRegistry } from '../ensemble/registry';
import { requireApiKey } from './auth';
import { notFound, onError } from './on-error';
import { ensembleRoutes } from './routes-ensembles';
import { executionRoutes } from './routes-executions';
import { callbackRoutes } from './routes-callback';
import type { AppEnv } from './types';

/** The Worker's HTTP API. `registry` is injectable so tests can run ensembles of their own. */
export function createApp(registry: () => EnsembleRegistry = defaultRegistry) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('registry', registry());
    await next();
  });
  app.use('/ensembles', requireApiKey);
  app.use('/ensembles/*', requireApiKey);
  app.use('/executions/*', requireApiKey);
  app.get('/', (c) => c.json({ name: 'ensemble-hitl', routes: ['GET /ensembles', 'POST /ensembles/:name', 'GET /executions/:id', 'GET|POST /callback/:token'] }));
  app.route('/ensembles', ensembleRoutes);
  app.route('/executions', executionRoutes);
  app.route('/callback', callbackRoutes);
  app.onError(onError);
  app.notFound(notFound);
  return app;
}
