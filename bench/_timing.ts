import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectCopy, startDevServer } from '/work/main/test/support/dev-server';
import { startReceiver } from '/work/main/test/support/receiver';
import { approvalEnsemble, p50 } from '/work/main/bench/support';

const receiver = await startReceiver();
const project = projectCopy();
writeFileSync(join(project, 'ensembles', 'bench-approval.yaml'), approvalEnsemble(receiver.url, process.env.NOTIFY !== '0'));
// instrument
const sr = join(project, 'src/runtime/start-run.ts');
let s = readFileSync(sr, 'utf8');
s = s.replace("const pending = await stub.begin(", "const tb = Date.now(); const pending: any = await stub.begin(").replace("return { status: 202, body: { executionId", "pending._w = { advance: tb - started, rpc: Date.now() - tb }; return { status: 202, body: { executionId");
writeFileSync(sr, s);
const hs = join(project, 'src/hitl/hitl-state.ts');
let h = readFileSync(hs, 'utf8');
h = h.replace("setTimeout(r, 0)", "setTimeout(r, 60)").replace("const prepared = this.store.exists() ? undefined : await prepareRequest(this.env, state, now);", "const prepared = this.store.exists() ? undefined : await prepareRequest(this.env, state, now); const tp = Date.now();")
 .replace("    await this.answerNow();\n", "    const tc = Date.now(); await this.answerNow(); const ta = Date.now(); (globalThis as any).__t = { prepare: tp - now, commit: tc - tp, answer: ta - tc };\n")
 .replace("return request.spec.returnLinks ? { ...pendingView(request), links", "return request.spec.returnLinks ? { ...pendingView(request), _d: (globalThis as any).__t, links");
writeFileSync(hs, h);
const server = await startDevServer({ cwd: project, persistTo: mkdtempSync(join(tmpdir(), 'exp-')), vars: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' } });
const headers = { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' };
const rows: any[] = [];
for (let i = 0; i < 60; i++) {
  const t = performance.now();
  const res = await fetch(`${server.url}/ensembles/bench-approval`, { method: 'POST', headers, body: '{}' });
  const body: any = await res.json();
  const total = performance.now() - t;
  if (i >= 10) rows.push({ total, ...body.pending._w, ...body.pending._d });
  await new Promise((r) => setTimeout(r, 30));
}
for (const k of Object.keys(rows[0])) console.log(k.padEnd(10), p50(rows.map((r) => r[k])).toFixed(1));
const bare: number[] = [];
for (let i = 0; i < 50; i++) { const t = performance.now(); await (await fetch(`${server.url}/`)).arrayBuffer(); bare.push(performance.now() - t); }
console.log('bare', p50(bare).toFixed(1));
await server.stop(); await receiver.close(); process.exit(0);
