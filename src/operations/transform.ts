import { z } from 'zod';
import { StepError } from '../errors';
import { depthOf, LIMITS } from '../limits';
import { defineOperation, type ConfigProblem } from './operation';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Names that reach an object's prototype when a program assigns or reads through them: refused
 * wherever the config names a field, and `__proto__` is left out of every object transform builds
 * (a later `Object.assign` of the output would otherwise change its target's prototype).
 */
const UNSAFE = new Set(['__proto__', 'constructor', 'prototype']);

const fieldName = z.string().min(1);
const fieldList = z.array(fieldName).max(LIMITS.transformColumns);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Sort = z.union([
  fieldName,
  z.strictObject({ by: fieldName.describe('the field to sort by'), order: z.enum(['asc', 'desc']).optional().describe('asc (the default) or desc') }),
]);

const Config = z.strictObject({
  value: z.unknown().optional().meta({ description: 'the output, as it is (with no other key)', examples: [[{ id: 1, name: 'Ada' }]] }),
  input: z.unknown().optional().meta({ description: 'what to transform (default: the step\'s input)', examples: ['${fetch-user.output.body}'] }),
  merge: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional()
    .describe('an object, or a list of items (objects or lists) combined over input left to right: objects shallowly (later keys win), lists concatenated; over no input (null), the items alone'),
  defaults: z.record(z.string(), z.unknown()).optional().describe('values for the keys an object lacks (of the object, or of each object of a list)'),
  filter: z.record(z.string(), scalar).optional().meta({ description: 'a list: keep the objects whose fields equal these values', examples: [{ status: 'active' }] }),
  sort: Sort.optional().meta({ description: 'a list of objects: by this field, or { by, order: asc | desc }; numbers before text before booleans, missing last', examples: ['name', { by: 'total', order: 'desc' }] }),
  pick: fieldList.optional().describe('keep only these keys (of the object, or of each object of a list)'),
  omit: fieldList.optional().describe('drop these keys (of the object, or of each object of a list)'),
  format: z.enum(['json', 'csv']).optional().describe('the output as text: json, or csv (RFC 4180; cells that a spreadsheet would run as a formula get a leading \')'),
  columns: fieldList.optional().describe('csv: the columns, in order (default: every key, in the order first seen)'),
});
type TransformConfig = z.infer<typeof Config>;

/** A problem with the config, and the code it fails the step with when it is found at run time. */
type Finding = ConfigProblem & { refusal: 'INVALID_CONFIG' | 'UNSAFE_KEY' };

/** What is wrong with a transform config; `config` holds the values known, `written` every key. */
function findings(config: Obj, written: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  const invalid = (key: string, message: string) => out.push({ path: [key], atKey: true, message, refusal: 'INVALID_CONFIG' });
  if (written.has('value')) {
    for (const key of written) if (key !== 'value') invalid(key, `'value' is the output as it is: '${key}' does not go with it`);
  } else if (written.has('columns') && (!written.has('format') || (config.format !== undefined && config.format !== 'csv'))) invalid('columns', "'columns' is for format: csv");
  const unsafe = (path: (string | number)[], name: unknown, atKey = false) => {
    if (typeof name === 'string' && UNSAFE.has(name)) out.push({ path, atKey, refusal: 'UNSAFE_KEY', message: `'${name}' cannot name a field: it reaches an object's prototype` });
  };
  for (const key of ['pick', 'omit', 'columns'] as const) {
    const list = config[key];
    if (Array.isArray(list)) list.forEach((name, i) => unsafe([key, i], name));
  }
  for (const key of ['defaults', 'filter'] as const) {
    const object = config[key];
    if (isObject(object)) for (const name of Object.keys(object)) unsafe([key, name], name, true);
  }
  const sort = config.sort;
  if (typeof sort === 'string') unsafe(['sort'], sort);
  else if (isObject(sort)) unsafe(['sort', 'by'], sort.by);
  return out;
}

const fail = (message: string) => new StepError('TRANSFORM_INVALID', `transform: ${message}`);

/** An object's own entries, without `__proto__` (objects are built from entries: defined, never assigned). */
const entriesOf = (o: Obj) => Object.entries(o).filter(([k]) => k !== '__proto__');

function checkItems(count: number, what: string): void {
  if (count > LIMITS.transformItems) throw new StepError('TOO_MANY_ITEMS', `transform: ${what} has ${count} items; at most ${LIMITS.transformItems} (LIMITS.transformItems)`);
}

const kindOf = (v: unknown) => (Array.isArray(v) ? 'a list' : isObject(v) ? 'an object' : v === null ? 'null' : `a ${typeof v}`);

/**
 * `start` with the items combined over it, left to right: objects shallowly (a later key wins, in
 * the place it first had), lists concatenated. Each key and item is copied once, however many items.
 */
function merged(start: unknown, items: readonly unknown[]): unknown {
  checkItems(items.length, 'merge');
  let keys: Map<string, unknown> | undefined;
  let list: unknown[] | undefined;
  const add = (value: unknown, what: string) => {
    if (isObject(value) && !list) {
      keys ??= new Map();
      for (const [k, v] of entriesOf(value)) keys.set(k, v);
    } else if (Array.isArray(value) && !keys) {
      list ??= [];
      checkItems(list.length + value.length, 'the merged list');
      list.push(...value);
    } else {
      throw fail(`${what} is ${kindOf(value)}: ${keys ? 'it cannot be merged into an object' : list ? 'it cannot be added to a list' : 'merge combines objects or lists'}`);
    }
  };
  if (start !== null && start !== undefined) add(start, 'the input');
  items.forEach((item, i) => add(item, `merge item ${i}`));
  return keys ? Object.fromEntries(keys) : list ?? null;
}

/** Each object of the subject (itself, or each item of a list) through `fn`. */
function eachObject(subject: unknown, what: string, fn: (o: Obj) => Obj): unknown {
  if (isObject(subject)) return fn(subject);
  if (!Array.isArray(subject)) throw fail(`${what} applies to an object or a list of objects, not to ${kindOf(subject)}`);
  return subject.map((item, i) => {
    if (!isObject(item)) throw fail(`${what}: item ${i} is not an object`);
    return fn(item);
  });
}

function listOf(subject: unknown, what: string): unknown[] {
  if (!Array.isArray(subject)) throw fail(`${what} applies to a list, not to ${kindOf(subject)}`);
  return subject;
}

/** Order of kinds when sorting: numbers, then text, then booleans; anything else (missing, null, objects) last. */
const rank = (v: unknown) => (typeof v === 'number' ? 0 : typeof v === 'string' ? 1 : typeof v === 'boolean' ? 2 : 3);

function sorted(list: unknown[], sort: NonNullable<TransformConfig['sort']>): unknown[] {
  const by = typeof sort === 'string' ? sort : sort.by;
  const sign = typeof sort === 'string' || sort.order !== 'desc' ? 1 : -1;
  const field = (item: unknown) => (isObject(item) && Object.hasOwn(item, by) ? item[by] : undefined);
  // Array.prototype.sort is stable: equal items keep their order, and the last kind stays last either way.
  return [...list].sort((x, y) => {
    const a = field(x);
    const b = field(y);
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (ra === 3 || a === b) return 0;
    return (a as never) < (b as never) ? -sign : sign;
  });
}

/** Characters a spreadsheet reads as the start of a formula (CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: text as it is, numbers and booleans as written, objects and lists as JSON. */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  // A leading apostrophe makes a spreadsheet show the text instead of running it (OWASP's advice).
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows (objects) as RFC 4180 CSV: a header, CRLF between records; never longer than a step's output may be. */
function csv(subject: unknown, columns: readonly string[] | undefined): string {
  const rows = isObject(subject) ? [subject] : listOf(subject, 'format: csv');
  rows.forEach((row, i) => {
    if (!isObject(row)) throw fail(`format: csv: row ${i} is not an object`);
  });
  let names = columns;
  if (!names) {
    const seen = new Set<string>();
    for (const row of rows as Obj[]) for (const key of Object.keys(row)) if (key !== '__proto__') seen.add(key);
    names = [...seen];
    if (names.length > LIMITS.transformColumns) throw new StepError('TOO_MANY_ITEMS', `transform: the rows have ${names.length} keys; a CSV has at most ${LIMITS.transformColumns} columns (LIMITS.transformColumns): name them in columns`);
  }
  const lines = [names.map(cell).join(',')];
  let length = lines[0]!.length;
  for (const row of rows as Obj[]) {
    const line = names.map((n) => cell(Object.hasOwn(row, n) ? row[n] : undefined)).join(',');
    length += line.length + 2;
    if (length > LIMITS.stepOutputBytes) throw new StepError('OUTPUT_TOO_LARGE', `transform: the CSV is longer than ${LIMITS.stepOutputBytes} characters, the most a step's output holds`);
    lines.push(line);
  }
  return lines.join('\r\n');
}

function transformed(c: TransformConfig, stepInput: unknown): unknown {
  if ('value' in c) return c.value;
  // A step without an input has null: merge then combines its items alone (conductor's merge mode).
  let subject: unknown = 'input' in c ? c.input : stepInput;
  if (depthOf(subject, LIMITS.valueDepth) > LIMITS.valueDepth) throw new StepError('VALUE_TOO_DEEP', `transform: the input is nested more than ${LIMITS.valueDepth} levels deep`);
  if (Array.isArray(subject)) checkItems(subject.length, 'the input');
  if (c.merge !== undefined) subject = merged(subject, Array.isArray(c.merge) ? c.merge : [c.merge]);
  if (c.defaults) {
    const defaults = entriesOf(c.defaults);
    subject = eachObject(subject, 'defaults', (o) => Object.fromEntries([...entriesOf(o), ...defaults.filter(([k]) => !Object.hasOwn(o, k))]));
  }
  if (c.filter) {
    const wanted = Object.entries(c.filter);
    subject = listOf(subject, 'filter').filter((item) => isObject(item) && wanted.every(([k, v]) => Object.hasOwn(item, k) && item[k] === v));
  }
  if (c.sort !== undefined) subject = sorted(listOf(subject, 'sort'), c.sort);
  if (c.pick) {
    const pick = c.pick;
    subject = eachObject(subject, 'pick', (o) => Object.fromEntries(pick.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k]])));
  }
  if (c.omit) {
    const omit = new Set(c.omit);
    subject = eachObject(subject, 'omit', (o) => Object.fromEntries(entriesOf(o).filter(([k]) => !omit.has(k))));
  }
  if (c.format === 'csv') return csv(subject, c.columns);
  if (c.format === 'json') return JSON.stringify(subject ?? null);
  return subject;
}

/**
 * `operation: transform`, as conductor writes it: data reshaped by declaration, no code. `value` is
 * the output as it is; otherwise `input` (default: the step's input) goes through merge, defaults,
 * filter, sort, pick, omit and format, in that order.
 *
 * @example { input: "${fetch.output.body}", omit: [password], sort: { by: name } }
 */
export const transform = defineOperation({
  config: Config,
  check(config, _ctx, step) {
    return findings(config, new Set([...Object.keys(config), ...step.dynamicConfig])).map(({ refusal: _, ...problem }) => problem);
  },
  async run({ config, input }) {
    const found = findings(config, new Set(Object.keys(config)));
    if (found.length) throw new StepError(found[0]!.refusal, `transform: ${found.map((p) => p.message).join('; ')}`);
    return transformed(config, input);
  },
});
