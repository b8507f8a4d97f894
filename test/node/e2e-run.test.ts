import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../support/dev-server';

let server: DevServer;

beforeAll(async () => {
  server = await startDevServer({ persistTo: mkdtempSync(join(tmpdir(), 'ens-e2e-')) });
});
afterAll(async () => {
  await server?.stop();
});

it('npm start serves the example ensembles over HTTP with the API key', async () => {
  const res = await fetch(`${server.url}/ensembles/hello`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Grace', shout: true }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { status: string; output: unknown };
  expect(body.status).toBe('completed');
  expect(body.output).toEqual({ message: 'HELLO, GRACE!', length: 13, shouted: true });

  const denied = await fetch(`${server.url}/ensembles/hello`, { method: 'POST', body: '{}' });
  expect(denied.status).toBe(401);
  const invalid = await fetch(`${server.url}/ensembles/hello`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}` },
    body: '{}',
  });
  expect(invalid.status).toBe(400);
});

it('with no model configured, npm start answers operation think with the echo provider', async () => {
  const res = await fetch(`${server.url}/ensembles/marketing-campaign`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ product: 'Rocket' }),
  });
  expect(res.status).toBe(202);
  const { executionId } = (await res.json()) as { executionId: string };
  const execution = (await (await fetch(`${server.url}/executions/${executionId}`, { headers: { authorization: `Bearer ${server.apiKey}` } })).json()) as any;
  expect(execution.steps[0]).toMatchObject({ name: 'generate-campaign', status: 'completed', output: 'Write a launch campaign for Rocket' });
  expect(server.output()).toContain('No model provider configured: operation think uses the echo provider');
});
