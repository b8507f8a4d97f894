import { isMap, isScalar, isSeq, visit, type Document, type YAMLError } from 'yaml';
import { LIMITS } from '../limits';

/** A YAML syntax mistake in plain words, at the character where the author has to look. */
export interface YamlMistake {
  offset: number;
  message: string;
  /** Where the parser's recovery may have made the values wrong: no other problem is reported there. */
  damaged: [start: number, end: number];
}

/**
 * Turns the parser's errors into one mistake each, in plain words and at the right place. The
 * parser reports several errors for one slip (an over-indented key is "nested mapping in compact
 * mapping" and "implicit key on one line", at the end of the line above), so errors on the same or
 * the next line as the previous one are treated as the same mistake.
 */
export function yamlMistakes(doc: Document, text: string, lineOf: (offset: number) => number): YamlMistake[] {
  const mistakes: YamlMistake[] = [];
  let lastLine = -2;
  // A file of nothing but errors still gets a bounded report.
  for (const error of doc.errors.slice(0, 100)) {
    const line = lineOf(error.pos[0]);
    const unit = damagedUnit(doc, error.pos[0], error.pos[1]);
    const prev = mistakes.at(-1);
    // The parser's recovery makes follow-on errors: on the next line, or inside what the last one garbled.
    if (prev && (line <= lastLine + 1 || (unit[0] <= prev.damaged[1] && unit[1] >= prev.damaged[0]))) {
      prev.damaged = [Math.min(prev.damaged[0], unit[0]), Math.max(prev.damaged[1], unit[1])];
      lastLine = line;
      continue;
    }
    lastLine = line;
    mistakes.push({ ...explain(error, doc, text), damaged: error.code === 'DUPLICATE_KEY' ? duplicated(doc, error.pos[0]) ?? unit : unit });
  }
  return mistakes;
}

function explain(error: YAMLError, doc: Document, text: string): { offset: number; message: string } {
  const at = error.pos[0];
  const raw = error.message.split('\n')[0]!;
  const start = firstContent(text, at);
  const line = text.slice(start, lineEnd(text, start)).replace(/\s+#.*$/, '').trimEnd();
  const key = /^(?:-\s+)?([^:#\s'"][^:#]*?)\s*:(\s|$)/.exec(line)?.[1];
  // Slips that show on the line itself, whatever the parser made of them.
  if (!['DUPLICATE_KEY', 'TAB_AS_INDENT', 'MISSING_CHAR', 'MULTIPLE_DOCS'].includes(error.code) || /followed by map values/.test(raw)) {
    if (/^-[^\s-]/.test(line)) return { offset: start, message: "put a space after '-' to start a list item ('- name: ...')" };
    const bare = /^(?:-\s+)?([A-Za-z_][\w-]*)$/.exec(line);
    if (bare) return { offset: start + line.length, message: `'${bare[1]}' needs a ':' after it` };
    const glued = /^(?:-\s+)?([A-Za-z_][\w-]*):(?![\s/])\S/.exec(line);
    if (glued) return { offset: start + line.indexOf(':') + 1, message: `put a space after ':' ('${glued[1]}: ...')` };
  }
  switch (error.code) {
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY': {
      if (/block sequence/.test(raw)) return { offset: start, message: "this list item is not lined up with the items above it: put its '-' in the same column as theirs" };
      // No ': ' on the rest of the line: the next line is indented under a key that already has a value.
      if (!/:(\s|$)/.test(restOfLine(text, at))) {
        const next = nextContentLine(text, at);
        if (next !== undefined) {
          const nextKey = /^([^:#\s][^:#]*?)\s*:/.exec(text.slice(next, lineEnd(text, next)))?.[1];
          return {
            offset: next,
            message: `${nextKey ? `'${nextKey}:'` : 'this line'} is indented more than the line above it: line it up with the keys above, or, to nest it, leave the key above without a value`,
          };
        }
      }
      return { offset: at, message: "a plain value cannot contain ': ' — quote the value, or put the mapping on lines of its own" };
    }
    case 'BAD_INDENT':
      if (/same column/.test(raw)) {
        return { offset: start, message: `${key ? `'${key}:'` : 'this line'} is not lined up with the keys above it: keys of one mapping start at the same column` };
      }
      if (/Flow sequence/.test(raw)) return { offset: openingFlow(doc, at, 'seq') ?? at, message: "this '[' list is not closed: add ']' (or quote a value that contains '[')" };
      if (/Flow map/.test(raw)) return { offset: openingFlow(doc, at, 'map') ?? at, message: "this '{' mapping is not closed: add '}' (or quote a value that contains '{')" };
      return { offset: start, message: `this line is not indented like the lines around it (${raw})` };
    case 'TAB_AS_INDENT':
      return { offset: at, message: 'tabs cannot indent YAML: indent with spaces' };
    case 'MISSING_CHAR':
      if (/quote/i.test(raw)) {
        const open = openingQuote(doc, at);
        return { offset: open ?? at, message: 'this quoted string is never closed: add the closing quote on the same line' };
      }
      if (/without - indicator/.test(raw)) {
        return { offset: start, message: `${key ? `'${key}:'` : 'this line'} is not lined up with the keys above it: keys of one mapping start at the same column` };
      }
      if (/followed by map values/.test(raw)) return { offset: start, message: `${key ? `'${key}'` : 'this key'} needs a ':' after it` };
      return { offset: at, message: raw };
    case 'DUPLICATE_KEY':
      return { offset: at, message: `${key ? `'${key}'` : 'this key'} appears twice in the same mapping: keep one` };
    case 'MULTIPLE_DOCS':
      return { offset: at, message: "a second YAML document starts here ('---'): an ensemble file holds one" };
    case 'UNEXPECTED_TOKEN':
      if (/scalar at node end/.test(raw)) return { offset: at, message: "text after the end of a quoted value: put all of it inside the quotes (inside '...' write an apostrophe as '')" };
      if (/flow-seq-end/.test(raw)) return { offset: at, message: "an extra ']' (nothing to close here)" };
      if (/flow-map-end/.test(raw)) return { offset: at, message: "an extra '}' (nothing to close here)" };
      if (/block-seq-ind on same line/.test(raw)) return { offset: at, message: "a list after a key starts on the next line ('- item' lines), or write it as [a, b]" };
      return { offset: at, message: `unexpected ${/"(.*)"$/.exec(raw)?.[1] ? `'${/"(.*)"$/.exec(raw)![1]}'` : 'text'} here: check the indentation and quoting of this line and the one above` };
    default:
      return { offset: at, message: /call stack/i.test(raw) ? `values are nested too deeply (limit ${LIMITS.yamlDepth} levels)` : raw };
  }
}

/**
 * The part of the file an error can have garbled: the step (`agents` item) or the top-level key it
 * is in; the whole file when it is in neither.
 */
function damagedUnit(doc: Document, start: number, end: number): [number, number] {
  const contents = doc.contents;
  if (!isMap(contents)) return [0, Infinity];
  let unit: [number, number] | undefined;
  for (const pair of contents.items) {
    // A key that is not a name (the parser made a list or a mapping of it): nothing is certain.
    if (!isScalar(pair.key)) return [0, Infinity];
    const keyStart = (pair.key as { range?: number[] } | null)?.range?.[0];
    if (keyStart === undefined || keyStart > start) continue;
    const value = pair.value as { range?: number[] } | null;
    unit = [keyStart, Math.max(end, value?.range?.[2] ?? end)];
    if (isScalar(pair.key) && pair.key.value === 'agents' && isSeq(pair.value)) {
      const item = [...pair.value.items].reverse().find((i) => ((i as { range?: number[] }).range?.[0] ?? Infinity) <= start) as { range?: number[] } | undefined;
      if (item?.range) unit = [item.range[0]!, Math.max(end, item.range[2]!)];
    }
  }
  return unit ?? [0, Infinity];
}

/** A top-level key written twice: both are suspect (the loader sees one, the locator finds the other). */
function duplicated(doc: Document, at: number): [number, number] | undefined {
  const contents = doc.contents;
  if (!isMap(contents)) return undefined;
  const pair = contents.items.find((p) => isScalar(p.key) && p.key.range?.[0] === at);
  if (!pair || !isScalar(pair.key)) return undefined;
  const same = contents.items.filter((p) => isScalar(p.key) && p.key.value === (pair.key as { value: unknown }).value);
  const ranges = same.map((p) => [(p.key as { range: number[] }).range[0]!, (p.value as { range?: number[] } | null)?.range?.[2] ?? (p.key as { range: number[] }).range[2]!] as const);
  return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
}

/** The opening bracket of the innermost flow collection (`[...]` or `{...}`) that runs to `at`. */
function openingFlow(doc: Document, at: number, kind: 'seq' | 'map'): number | undefined {
  let found: number | undefined;
  const check = (node: { flow?: boolean; range?: [number, number, number] | null }) => {
    if (node.flow && node.range && node.range[0] <= at && at <= node.range[2] && (found === undefined || node.range[0] > found)) found = node.range[0];
  };
  visit(doc, kind === 'seq' ? { Seq: (_, node) => check(node) } : { Map: (_, node) => check(node) });
  return found;
}

/** The opening quote of the quoted scalar that runs to `at`. */
function openingQuote(doc: Document, at: number): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Scalar(_, node) {
      if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && node.range && node.range[0] <= at && at <= node.range[2]) found = node.range[0];
    },
  });
  return found;
}

const lineEnd = (text: string, at: number) => {
  const nl = text.indexOf('\n', at);
  return nl === -1 ? text.length : nl;
};
const restOfLine = (text: string, at: number) => text.slice(at, lineEnd(text, at));
/** The first non-space character of the line holding `at`. */
function firstContent(text: string, at: number): number {
  const start = text.lastIndexOf('\n', at - 1) + 1;
  const indent = /^[ \t]*/.exec(text.slice(start))![0].length;
  return start + indent;
}
/** The first non-space character of the next line that holds something other than a comment. */
function nextContentLine(text: string, at: number): number | undefined {
  for (let i = lineEnd(text, at) + 1; i < text.length; i = lineEnd(text, i) + 1) {
    const content = firstContent(text, i);
    if (content < text.length && text[content] !== '\n' && text[content] !== '#' && text[content] !== '\r') return content;
  }
  return undefined;
}
