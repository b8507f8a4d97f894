#!/usr/bin/env node
// Index writes per second on local D1 (miniflare's SQLite), the same batch an execution's object
// sends on every status change (upsert the row, replace who it waits on, upsert its request).
// Local figures bound what one database does; production D1 adds a network hop per batch.
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';

// The loop runs inside workerd (a Worker with a D1 binding), as an object's writes do.
const worker = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const db = env.DB;
    if (url.pathname === '/migrate') {
      for (const sql of (await request.text()).split(';').map((s) => s.trim()).filter(Boolean)) await db.prepare(sql).run();
      return new Response('ok');
    }
    const total = Number(url.searchParams.get('n'));
    const concurrency = Number(url.searchParams.get('c'));
    const write = (i, version) => db.batch([
      db.prepare(\`INSERT INTO executions (id, ensemble, status, created_at, updated_at, version, pending_step, pending_approvers, expires_at, requested_at)
        VALUES (?1, 'bench', 'suspended', ?2, ?2, ?3, 'review', '["a@example.com","b@example.com"]', ?2, ?2)
        ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, version = excluded.version WHERE excluded.version >= executions.version\`).bind('exe_' + i, Date.now(), version),
      db.prepare('DELETE FROM execution_approvers WHERE execution_id = ?').bind('exe_' + i),
      db.prepare('INSERT OR IGNORE INTO execution_approvers (approver, execution_id) VALUES (?, ?)').bind('a@example.com', 'exe_' + i),
      db.prepare('INSERT OR IGNORE INTO execution_approvers (approver, execution_id) VALUES (?, ?)').bind('b@example.com', 'exe_' + i),
      db.prepare(\`INSERT INTO approval_requests (execution_id, request_id, step, requested_at) VALUES (?, 1, 'review', ?)
        ON CONFLICT (execution_id, request_id) DO UPDATE SET closed_at = excluded.closed_at\`).bind('exe_' + i, Date.now()),
    ]);
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next < total) await write(next++ % 5000, next); }));
    const writeMs = Date.now() - started;
    const listStart = Date.now();
    for (let i = 0; i < 50; i++) await db.prepare("SELECT * FROM executions WHERE status = 'suspended' ORDER BY created_at DESC, id DESC LIMIT 50").all();
    return Response.json({ total, writeMs, listMs: (Date.now() - listStart) / 50 });
  },
};`;
const mf = new Miniflare({ modules: true, script: worker, d1Databases: ['DB'] });
const migration = readFileSync(new URL('../migrations/0002_executions.sql', import.meta.url), 'utf8').replace(/--.*$/gm, '');
await (await mf.dispatchFetch('http://bench/migrate', { method: 'POST', body: migration })).text();
for (const [label, n, c] of [['sequential', 2000, 1], ['concurrency 8', 4000, 8]]) {
  const r = await (await mf.dispatchFetch(`http://bench/?n=${n}&c=${c}`)).json();
  console.log(`${label}: ${r.total} index writes in ${(r.writeMs / 1000).toFixed(2)} s = ${Math.round(r.total / (r.writeMs / 1000))} writes/s; list of 50 newest suspended: ${r.listMs.toFixed(2)} ms`);
}
await mf.dispose();
