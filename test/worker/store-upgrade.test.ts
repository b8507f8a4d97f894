import { describe, expect, it } from 'vitest';
import { ADDED_COLUMNS, ExecutionStore } from '../../src/hitl/store';
import { inObject, stubOf } from './hitl-helpers';

// A new object creates its complete tables in one batch (every suspension pays for it); an object
// created by an earlier release is upgraded when it wakes. Both must end with the same tables.

const layout = (sql: SqlStorage) => Object.fromEntries(
  sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name != 'sqlite_sequence' ORDER BY name").toArray()
    .map(({ name }) => [name, sql.exec<{ name: string; type: string; notnull: number; dflt_value: SqlStorageValue }>(`PRAGMA table_info(${name})`).toArray().map((c) => `${c.name} ${c.type}${c.notnull ? ' NOT NULL' : ''}${c.dflt_value === null ? '' : ` DEFAULT ${c.dflt_value}`}`).sort()]),
);

describe('the object\'s tables', () => {
  it('an object from before the added columns is upgraded to exactly the tables a new object creates', async () => {
    await inObject(stubOf(`exe_${crypto.randomUUID().replaceAll('-', '')}`), async (_instance, ctx) => {
      const sql = ctx.storage.sql;
      const store = new ExecutionStore(sql);
      store.create();
      const fresh = layout(sql);
      expect(Object.keys(fresh)).toEqual(['audit', 'batch', 'decision', 'interaction', 'message', 'outbox', 'part', 'request', 'run', 'token']);
      // The first release's tables: today's without the columns and tables added since.
      sql.exec('DROP TABLE part');
      sql.exec('DROP TABLE batch');
      for (const [table, column] of ADDED_COLUMNS) sql.exec(`ALTER TABLE ${table} DROP COLUMN ${column}`);
      for (const [table, column] of ADDED_COLUMNS) expect(layout(sql)[table]!.some((c) => c.startsWith(`${column} `))).toBe(false);
      store.upgrade();
      expect(layout(sql)).toEqual(fresh);
      store.upgrade(); // waking again changes nothing
      expect(layout(sql)).toEqual(fresh);
    });
  });
});

const record = (path: string, output: unknown) => ({ name: path.split('/').pop()!, path, status: 'completed' as const, input: null, output, startedAt: '2026-12-07T00:00:00.000Z', durationMs: 1 });
const runState = (steps: ReturnType<typeof record>[], nodes: Record<string, unknown> = {}) => ({
  executionId: 'exe_parts', ensemble: 'e', hash: 'h', input: { items: [1, 2, 3], note: 'ü' }, startedAt: '2026-12-07T00:00:00.000Z', status: 'running' as const, steps, nodes,
});
const def = { file: 'ensembles/e.yaml', source: 'agents: []', hash: 'h' };

describe('the run state in storage', () => {
  it('is read back as saved, and a save writes only the parts that changed', async () => {
    await inObject(stubOf(`exe_${crypto.randomUUID().replaceAll('-', '')}`), async (_instance, ctx) => {
      const sql = ctx.storage.sql;
      const store = new ExecutionStore(sql);
      store.create();
      const steps = Array.from({ length: 200 }, (_, i) => record(`each[${i}]/inc`, { n: i }));
      const first = runState(steps, { each: { type: 'foreach', status: 'running', items: [1, 2, 3], startedAt: '2026-12-07T00:00:00.000Z' } });
      store.insertRun(first as never, def, 1);
      expect(store.run()!.state).toEqual(first);
      // One more step: one new part, the node record, the run row; not 200 records written again.
      const next = runState([...steps, record('after', 'ok')], { each: { type: 'foreach', status: 'completed', items: [1, 2, 3], output: [1], startedAt: '2026-12-07T00:00:00.000Z' } });
      const counted = rowsWrittenBy(sql, () => store.saveState(next as never, 2));
      expect(counted).toBe(3); // the new step, the node record, the run row
      expect(new ExecutionStore(sql).run()!.state).toEqual(next);
      // A step gone (never happens today) is deleted, and the order of steps is kept.
      const reordered = runState([record('after', 'ok'), ...steps.slice(0, 3)]);
      store.saveState(reordered as never, 3);
      expect(new ExecutionStore(sql).run()!.state).toEqual(reordered);
      expect(store.run()!.state).toEqual(reordered);
    });
  });

  it('a state stored whole by an earlier release is read, and saved in parts from then on', async () => {
    await inObject(stubOf(`exe_${crypto.randomUUID().replaceAll('-', '')}`), async (_instance, ctx) => {
      const sql = ctx.storage.sql;
      const store = new ExecutionStore(sql);
      store.create();
      const old = runState([record('a', 1), record('b', { two: 2 })]);
      sql.exec('INSERT INTO run (id, state, file, source, hash, created_at, updated_at) VALUES (1, ?, ?, ?, ?, 1, 1)', JSON.stringify(old), def.file, def.source, def.hash);
      expect(store.run()!.state).toEqual(old);
      const next = runState([...old.steps, record('c', 3)]);
      store.saveState(next as never, 2);
      expect(new ExecutionStore(sql).run()!.state).toEqual(next);
      expect(JSON.parse(String(sql.exec('SELECT state FROM run').one().state))).not.toHaveProperty('steps');
    });
  });
});

/** Rows the statements run by `f` wrote, from SQLite's own count. */
function rowsWrittenBy(sql: SqlStorage, f: () => void): number {
  const total = () => Number(sql.exec('SELECT total_changes() AS n').one().n);
  const before = total();
  f();
  return total() - before;
}
