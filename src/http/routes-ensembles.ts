import { Hono } from 'hono';
import { z } from 'zod';
import { ValidationError } from '../errors';
import { startRun } from '../runtime/start-run';
import { flushFlatRuns, indexFlatRun } from '../executions/flat-runs';
import { after } from './after';
import { issueList, readBody } from './body';
import type { AppEnv } from './types';

const RunInput = z.record(z.string(), z.unknown(), { error: 'the run input must be a JSON object' });

/** `/ensembles`: list, show, run. */
export const ensembleRoutes = new Hono<AppEnv>()
  .get('/', (c) => {
    const ensembles = c.var.registry.list().map((e) => ({
      name: e.name,
      file: e.file,
      description: e.ensemble?.description,
      valid: e.problems.length === 0,
      steps: e.ensemble?.steps.map((s) => s.name),
      ...(e.problems.length ? { problems: e.problems } : {}),
    }));
    return c.json({ ensembles });
  })
  .get('/:name', (c) => {
    const e = c.var.registry.get(c.req.param('name'));
    return c.json({
      name: e.name,
      description: e.description,
      file: e.file,
      hash: e.hash,
      inputs: e.inputs,
      steps: e.steps.map((s) => ({ name: s.name, ...(s.kind === 'agent' ? { agent: s.agent } : { operation: s.operation }) })),
      source: e.source,
    });
  })
  .post('/:name', async (c) => {
    const ensemble = c.var.registry.get(c.req.param('name'));
    const body = await readBody(c, RunInput);
    const input = ensemble.inputSchema.safeParse(body);
    if (!input.success) throw new ValidationError(`input does not match the inputs of '${ensemble.name}'`, issueList(input.error));
    const result = await startRun(ensemble, input.data, {
      env: c.env,
      scripts: c.var.registry.scripts,
      origin: new URL(c.req.url).origin,
    });
    // A run that never suspended is in no Durable Object: the index is its only trace. Written
    // after the response (a failure here costs the listing, never the run).
    if (result.status !== 202 && c.env.DB) {
      const waiting = after(c, indexFlatRun(c.env.DB, result.state));
      // No execution context to wait for the batch after the answer (an app called directly):
      // the row is written now instead (its batch writes it again; that insert does nothing).
      if (waiting) await flushFlatRuns(c.env.DB);
    }
    return c.json(result.body, result.status);
  });
