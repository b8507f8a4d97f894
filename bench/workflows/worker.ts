// The baseline of `npm run bench:round-trip`: the same approval round trip on Cloudflare Workflows
// (`step.waitForEvent` + `instance.sendEvent`), run locally by `wrangler dev` like the product.
// A step posts the notification to the receiver, the instance waits for the decision event, and a
// step after it posts to the receiver again: what bench-approval does with a `hitl` step.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from 'cloudflare:workers';

interface Env { APPROVAL: Workflow<Params> }
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
    const event = /^\/decide\/([\w-]+)$/.exec(url.pathname);
    if (request.method === 'POST' && event) {
      const instance = await env.APPROVAL.get(event[1]!);
      await instance.sendEvent({ type: 'decision', payload: await request.json() });
      return Response.json({ ok: true });
    }
    return Response.json({ name: 'workflows-baseline' });
  },
} satisfies ExportedHandler<Env>;
