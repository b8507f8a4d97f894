import { Hono } from 'hono';
import type { AppEnv } from './types';

/** `/agents`: the project's agent library (agents/), every version, and what does not load. */
export const agentRoutes = new Hono<AppEnv>().get('/', (c) => {
  const library = c.var.registry.library();
  const agents = library.agents().map((a) => ({
    name: a.name,
    ...(a.version !== undefined ? { version: a.version } : {}),
    ...(a.description !== undefined ? { description: a.description } : {}),
    file: a.file,
    ...(a.step.operation !== undefined ? { operation: a.step.operation } : { agent: a.step.agent }),
    ...(a.schema ? { schema: a.schema } : {}),
  }));
  const components = library.components().map((p) => ({ name: p.name, ...(p.version !== undefined ? { version: p.version } : {}), file: p.file, kind: typeof p.value === 'string' ? 'prompt' : 'config' }));
  return c.json({ agents, components, ...(library.problems.length ? { problems: library.problems } : {}) });
});
