import type { z } from 'zod';
import { suggest } from './suggest';

/**
 * A schema issue in an author's words: the key, what it must be, what was written. zod's own text
 * ("Invalid input", "Too small: expected number to be >=1") names neither.
 *
 * @example plainIssue(tooSmall(1), 0)   // "'attempts' must be at least 1 (got 0)"
 * @example plainIssue(badEnum, 'teams') // "'notificationChannel' is 'teams': expected one of slack, email, webhook, console"
 */
export function plainIssue(issue: z.core.$ZodIssue, written: unknown): string {
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A value of the right kind that failed (an unknown channel name) says more than "not a list".
    const matched = issue.errors.find((branch) => branch.length > 0 && branch[0]!.code !== 'invalid_type' && branch[0]!.path.length === 0);
    if (matched) return plainIssue({ ...matched[0]!, path: [...issue.path, ...matched[0]!.path] } as z.core.$ZodIssue, written);
    const expected = issue.errors.flatMap((branch) => (branch[0]?.code === 'invalid_type' ? [TYPE_WORDS[branch[0].expected] ?? branch[0].expected] : []));
    if (expected.length === issue.errors.length && written !== undefined) {
      const key = [...issue.path].reverse().find((k) => typeof k === 'string');
      return `${key === undefined ? 'the value' : `'${String(key)}'`} must be ${[...new Set(expected)].join(' or ')}, not ${kindOf(written)}`;
    }
  }
  const key = [...issue.path].reverse().find((k) => typeof k === 'string');
  const subject = key === undefined ? 'the value' : `'${String(key)}'`;
  const got = written === undefined ? '' : ` (got ${shown(written)})`;
  switch (issue.code) {
    case 'invalid_type':
      if (written === undefined) return `${subject} is required`;
      return `${subject} must be ${TYPE_WORDS[issue.expected] ?? issue.expected}, not ${kindOf(written)}${got}`;
    case 'invalid_value': {
      const options = issue.values.map(String);
      const close = typeof written === 'string' ? suggest(written, options) : undefined;
      const expected = options.length === 1 ? `'${options[0]}'` : `one of ${options.join(', ')}`;
      return `${subject} is ${shown(written)}${close ? ` — did you mean '${close}'?` : `: expected ${expected}`}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return `${subject} needs at least ${min} item${min === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return min === 1 ? `${subject} cannot be empty` : `${subject} must be at least ${min} characters long`;
      return `${subject} must be ${issue.inclusive === false ? 'more than' : 'at least'} ${min}${got}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return `${subject} takes at most ${max} item${max === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return `${subject} must be at most ${max} characters long`;
      return `${subject} must be ${issue.inclusive === false ? 'less than' : 'at most'} ${max}${got}`;
    }
    case 'invalid_format':
      if (issue.format === 'url') return `${subject} must be an http:// or https:// URL${got}`;
      if (issue.format === 'regex') return `${subject}: ${issue.message}${got}`;
      return `${subject} must be ${issue.format === 'email' ? 'an email address' : `a valid ${issue.format}`}${got}`;
    case 'not_multiple_of':
      return `${subject} must be a multiple of ${String(issue.divisor)}${got}`;
    case 'custom':
      return issue.message;
    default:
      return `${issue.message}${key === undefined ? '' : ` (at ${subject})`}`;
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value lines)',
  record: 'a mapping (key: value lines)',
};

function kindOf(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return 'text';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'true/false';
  return typeof v;
}

function shown(v: unknown): string {
  const s = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** The value at `path` inside `root` (what the author wrote where an issue points). */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
