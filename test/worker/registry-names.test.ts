import { describe, expect, it } from 'vitest';
import { EnsembleRegistry } from '../../src/ensemble/registry';

// The name tools/gen-registry.mjs gives each file at build time.
// @ts-expect-error: a plain .mjs tool without types
import { buildName } from '../../tools/ensemble-name.mjs';
import { stepKinds } from '../../src/kinds';

const steps = 'agents:\n  - name: a\n    operation: code\n    config: { script: greet }\n';
const scripts = { greet: { default: () => ({}) } };
const registryOf = (files: Record<string, string>) =>
  new EnsembleRegistry(Object.entries(files).map(([file, source]) => ({ file, source, hash: `h-${file}`, name: buildName(file, source) })), scripts, stepKinds);

describe('names known at build time agree with the loader', () => {
  // Valid YAML the build-time regex does not read as the loader does.
  const spellings: Record<string, string> = {
    'byte order mark (Windows editors)': `\uFEFFensemble: release\n${steps}`,
    'value on the next line': `ensemble:\n  release\n${steps}`,
    'quoted key': `"ensemble": release\n${steps}`,
    'escaped double-quoted value': `ensemble: "rel\\x65ase"\n${steps}`,
    'flow mapping': `{ ensemble: release, agents: [ { name: a, operation: code, config: { script: greet } } ] }\n`,
  };
  for (const [what, source] of Object.entries(spellings)) {
    it(`${what}: the ensemble listed as 'release' is run by that name`, () => {
      const registry = registryOf({ 'ensembles/release-v2.yaml': source });
      expect(registry.list().map((e) => [e.name, e.problems.map((p) => p.code)])).toEqual([['release', []]]);
      expect(registry.get('release').name).toBe('release');
    });
  }

  it('two files that both name themselves `release` are still a duplicate', () => {
    const registry = registryOf({
      'ensembles/a.yaml': `\uFEFFensemble: release\n${steps}`,
      'ensembles/release.yaml': `ensemble: release\n${steps}`,
    });
    const release = registry.list().filter((e) => e.name === 'release');
    expect(release).toHaveLength(2);
    expect(release.some((e) => e.problems.some((p) => p.code === 'duplicate-ensemble'))).toBe(true);
  });

  it('`ensemble: pay#2` (a plain scalar, not a comment) does not take the name of a valid `pay`', () => {
    // The regex reads `pay` and a comment; YAML reads the value `pay#2` (invalid, so the file is
    // named after itself). Sorted first, it takes the slot `pay` and the real pay.yaml becomes "the duplicate".
    const registry = registryOf({
      'ensembles/a-draft.yaml': `ensemble: pay#2\n${steps}`,
      'ensembles/pay.yaml': `ensemble: pay\n${steps}`,
    });
    expect(registry.get('pay').file).toBe('ensembles/pay.yaml');
  });
});

describe('GET /healthz counts invalid files without loading them all (a fresh isolate with 500 ensembles)', () => {
  const bad = 'agents:\n  - name: a\n    operation: nope\n';
  const files = { 'ensembles/good.yaml': `ensemble: good\n${steps}`, 'ensembles/bad.yaml': `ensemble: bad\n${bad}`, 'ensembles/again.yaml': `ensemble: good\n${steps}` };

  it('without a record from the build, it loads the files and agrees with list()', () => {
    const registry = registryOf(files);
    expect(registry.invalidCount()).toBe(2); // bad.yaml, and the second file named good
    expect(registry.invalidCount()).toBe(registry.list().filter((e) => e.problems.length > 0).length);
  });

  it('with the build\'s record, it loads nothing: a file recorded as loading is not parsed to count it', () => {
    const recorded = (valid: boolean) => new EnsembleRegistry(Object.entries(files).map(([file, source]) => ({ file, source, hash: `h-${file}`, name: buildName(file, source), valid: file === 'ensembles/bad.yaml' ? valid : true })), scripts, stepKinds);
    expect(recorded(false).invalidCount()).toBe(2);
    // Recorded as loading (the build saw another version of it): counted from the record alone.
    const trusting = recorded(true);
    expect(trusting.invalidCount()).toBe(1);
    // What the file is still decides everything else, and a loaded file counts as what it is.
    expect(trusting.list().find((e) => e.file === 'ensembles/bad.yaml')!.problems.map((p) => p.code)).not.toEqual([]);
    expect(trusting.invalidCount()).toBe(2);
  });
});

