import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';

// The corpus of common mistakes (test/fixtures/broken): each file with the exact problems an author
// must see (its .problems file), so message quality cannot regress; docs/ensembles.md quotes them.
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, 'test/fixtures/broken');
const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('common mistakes', () => {
  it.each(cases)('%s: exactly the expected problems, each at file:line:col with the fix', (file) => {
    const result = loadEnsemble({ file: `broken/${file}`, source: readFileSync(join(dir, file), 'utf8') }, { kinds: stepKinds, scripts: new Set(['greet']) });
    const expected = readFileSync(join(dir, file.replace(/\.yaml$/, '.problems')), 'utf8').trim().split('\n');
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual(expected);
  });

  it('docs/ensembles.md shows every one of them, as generated from the corpus (node tools/gen-mistakes.mjs)', async () => {
    // @ts-expect-error: a plain .mjs tool without types
    const { mistakesSection, withMistakes } = await import('../../tools/gen-mistakes.mjs');
    const docs = readFileSync(join(root, 'docs/ensembles.md'), 'utf8');
    expect(docs).toBe(withMistakes(docs, mistakesSection(root)));
    expect(docs).toContain("every-problem-at-once.yaml:14:12: step 'check' has no field 'outptu' — did you mean 'output'?");
  });
});
