#!/usr/bin/env node
// Requests per second of a run against a bare Worker route, in the same `wrangler dev` server:
// GET / (baseline: routing and JSON only) vs POST /ensembles/hello (a two-step run) vs
// POST /ensembles/expense-approval (a run that suspends into its Durable Object).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const port = 8990 + Math.floor(Math.random() * 9);
const key = 'bench-key';
const server = spawn(process.execPath, ['tools/start.mjs', '--port', String(port), '--persist-to', mkdtempSync(join(tmpdir(), 'bench-')), '--var', `API_KEY:${key}`], { stdio: 'ignore', detached: true });
const url = `http://127.0.0.1:${port}`;
const stop = () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ } };
process.on('exit', stop);

for (let i = 0; ; i++) {
  try { if ((await fetch(url)).ok) break; } catch { /* starting */ }
  if (i > 300) throw new Error('server did not start');
  await new Promise((r) => setTimeout(r, 200));
}

async function measure(label, make, total = Number(process.env.N ?? 400), concurrency = 8) {
  let next = 0;
  const worker = async () => { while (next++ < total) { const res = await make(); await res.arrayBuffer(); if (!res.ok) throw new Error(`${label}: ${res.status}`); } };
  await Promise.all(Array.from({ length: concurrency }, worker)); // warm up
  next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return total / ((performance.now() - start) / 1000);
}

const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const base = await measure('GET /', () => fetch(`${url}/`));
const run = await measure('hello', () => fetch(`${url}/ensembles/hello`, { method: 'POST', headers, body: '{"name":"bench"}' }));
const suspend = await measure('suspend', () => fetch(`${url}/ensembles/expense-approval`, { method: 'POST', headers, body: '{"amount":1,"category":"x","manager_email":"m@example.com"}' }), 200);
console.log(`baseline GET /                 ${base.toFixed(0).padStart(6)} req/s`);
console.log(`POST /ensembles/hello          ${run.toFixed(0).padStart(6)} req/s  ratio ${(run / base).toFixed(2)} of baseline`);
console.log(`POST /ensembles/expense (202)  ${suspend.toFixed(0).padStart(6)} req/s  ratio ${(suspend / base).toFixed(2)} of baseline`);
stop();
process.exit(0);
