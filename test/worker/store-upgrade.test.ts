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
      expect(Object.keys(fresh)).toEqual(['audit', 'decision', 'interaction', 'message', 'outbox', 'request', 'run', 'token']);
      // The first release's tables: today's without the columns added since.
      for (const [table, column] of ADDED_COLUMNS) sql.exec(`ALTER TABLE ${table} DROP COLUMN ${column}`);
      for (const [table, column] of ADDED_COLUMNS) expect(layout(sql)[table]!.some((c) => c.startsWith(`${column} `))).toBe(false);
      store.upgrade();
      expect(layout(sql)).toEqual(fresh);
      store.upgrade(); // waking again changes nothing
      expect(layout(sql)).toEqual(fresh);
    });
  });
});
