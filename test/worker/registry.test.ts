import { describe, expect, it } from 'vitest';
import { EnsembleRegistry } from '../../src/ensemble/registry';
import { stepKinds } from '../../src/kinds';

const good = 'agents:\n  - name: a\n    operation: code\n    config: { script: greet }\n';

describe('the registry loads each ensemble when it is first asked for', () => {
  it('a cold registry of 500 named files loads only the one a run needs; list() still reports every problem and clash', () => {
    const read = new Set<string>();
    const files = Array.from({ length: 500 }, (_, i) => ({
      file: `ensembles/e${i}.yaml`,
      name: `e${i}`,
      hash: `h${i}`,
      // A getter records which files the loader read.
      get source(): string { read.add(`e${i}`); return i === 7 ? 'agents: [' : good; },
    }));
    files.push({ file: 'ensembles/dup.yaml', name: 'e1', hash: 'hd', get source() { read.add('dup'); return good; } });
    const registry = new EnsembleRegistry(files, { greet: { default: () => ({}) } }, stepKinds);
    expect(read.size).toBe(0);
    expect(registry.get('e3').steps.map((s) => s.name)).toEqual(['a']);
    expect([...read]).toEqual(['e3']);
    const all = registry.list();
    expect(all).toHaveLength(501);
    expect(all.find((e) => e.name === 'e7')!.problems[0]!.code).toBe('yaml');
    expect(all.find((e) => e.file === 'ensembles/dup.yaml')!.problems.map((p) => p.code)).toEqual(['duplicate-ensemble']);
    expect(() => registry.get('e7')).toThrow(/e7/);
    expect(() => registry.get('nope')).toThrow(/nope/);
  });
});
