// Baselines of the benchmarks, run locally by `wrangler dev` like the product (not part of it).
// - The same approval round trip on Cloudflare Workflows (`step.waitForEvent` +
//   `instance.sendEvent`): a step posts the notification to the receiver, the instance waits for
//   the decision event, and a step after it posts to the receiver again, as bench-approval does
//   with a `hitl` step.
// - The floor of a suspension: a new Durable Object per request that creates one SQLite table and
//   writes one row, which is the least any durable suspension in its own object costs.
import { DurableObject, WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from 'cloudflare:workers';

interface Env { APPROVAL: Workflow<Params>; FLOOR: DurableObjectNamespace<Floor> }

export class Floor extends DurableObject<Env> {
  touch(value: string): number {
    this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS t (v TEXT)');
    this.ctx.storage.sql.exec('INSERT INTO t (v) VALUES (?)', value);
    return 1;
  }
}
interface Params { receiver: string }

export class Approval extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const { receiver } = event.payload;
    const id = event.instanceId;
    await step.do('notify', async () => {
      await fetch(`${receiver}/notify`, { method: 'POST', body: JSON.stringify({ id }) });
    });
    const decision = await step.waitForEvent<{ approved: boolean }>('decision', { type: 'decision', timeout: '1 hour' });
    await step.do('after', async () => {
      await fetch(`${receiver}/done`, { method: 'POST', body: JSON.stringify({ id, approved: decision.payload.approved }) });
    });
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/start') {
      const instance = await env.APPROVAL.create({ params: (await request.json()) as Params });
      return Response.json({ id: instance.id }, { status: 202 });
    }
    if (request.method === 'POST' && url.pathname === '/floor') {
      const id = crypto.randomUUID();
      await env.FLOOR.get(env.FLOOR.idFromName(id)).touch(await request.text());
      return Response.json({ id }, { status: 202 });
    }
    const event = /^\/decide\/([\w-]+)$/.exec(url.pathname);
    if (request.method === 'POST' && event) {
      const instance = await env.APPROVAL.get(event[1]!);
      await instance.sendEvent({ type: 'decision', payload: await request.json() });
      return Response.json({ ok: true });
    }
    return Response.json({ name: 'workflows-baseline' });
  },
} satisfies ExportedHandler<Env>;
