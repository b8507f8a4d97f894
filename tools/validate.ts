// Loads ensemble files with the same loader the Worker uses and prints every problem as
// file:line:col. Exit code 1 on any problem (unless --warn: the dev server still starts).
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnsemble } from '../src/ensemble/loader';
import { stepKinds } from '../src/kinds';
import { formatProblem } from '../src/ensemble/problem';
import { scriptKey } from '../src/operations/script-name';
import { publicNames } from '../src/secrets';
import { Library } from '../src/library/library';
// @ts-expect-error a plain .mjs helper shared with the registry generator
import { consumedQueues, publicVarNames } from './wrangler-vars.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const warnOnly = args.includes('--warn');
const targets = args.filter((a) => !a.startsWith('--'));

function walk(dir: string, match: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name), match) : match.test(d.name) ? [join(dir, d.name)] : [],
  );
}

const files = (targets.length ? targets.map((t) => resolve(t)) : [join(root, 'ensembles')]).flatMap((t) =>
  existsSync(t) && statSync(t).isDirectory() ? walk(t, /\.ya?ml$/i).sort() : [t],
);
const isModule = (p: string) => !p.endsWith('.d.ts') && !/\.test\.[mc]?[jt]s$/.test(p);
const scripts = new Set([
  ...walk(join(root, 'scripts'), /\.(m?[jt]s)$/).filter(isModule).map((p) => scriptKey(relative(join(root, 'scripts'), p))),
  // Code agents' handlers, next to their definitions (`agents/greet/index`).
  ...walk(join(root, 'agents'), /\.(m?[jt]s)$/).filter(isModule).map((p) => relative(root, p).replace(/\\/g, '/').replace(/\.m?[jt]s$/, '')),
]);

// The library (agents/ and prompts/ of this project): checked, and what ensembles resolve against.
const libraryPaths = [...walk(join(root, 'agents'), /\.ya?ml$/i).sort(), ...walk(join(root, 'prompts'), /\.(ya?ml|md|txt)$/i).sort(), ...walk(join(root, 'configs'), /\.ya?ml$/i).sort()];
// Conductor's old layout is not read: say so rather than leave its agents unknown.
const legacy = walk(join(root, 'members'), /\.ya?ml$/i).sort();
const library = new Library(
  libraryPaths.map((p) => ({ file: relative(root, p).replace(/\\/g, '/'), source: readFileSync(p, 'utf8'), hash: '' })),
  { kinds: stepKinds, scripts },
);

// Env names that are configuration: wrangler.toml's [vars] and its HITL_PUBLIC_VARS, plus a
// HITL_PUBLIC_VARS in the environment of this command (what a deployment sets elsewhere).
const publicEnv = publicNames(publicVarNames(join(root, 'wrangler.toml')) as string[], process.env.HITL_PUBLIC_VARS);

let bad = 0;
const names = new Map<string, string>();
// Library problems are reported with the ensembles (a file of its own each).
const libraryBad = new Set(library.problems.map((p) => p.file));
for (const path of legacy) {
  const file = relative(process.cwd(), path) || path;
  console.error(`${file}:1:1: conductor's old layout (members/<name>/member.yaml with type:) is not read: move it to agents/<name>/agent.yaml and write operation: for type:`);
  libraryBad.add(file);
}
for (const p of library.problems) console.error(formatProblem({ ...p, file: relative(process.cwd(), join(root, p.file)) || p.file }));
if (!warnOnly) {
  for (const a of library.agents()) console.log(`ok  ${relative(process.cwd(), join(root, a.file))} (agent ${a.name}${a.version !== undefined ? `@${a.version}` : ''})`);
  for (const c of library.components()) console.log(`ok  ${relative(process.cwd(), join(root, c.file))} (${typeof c.value === 'string' ? 'prompt' : 'component'} ${c.name}${c.version !== undefined ? `@${c.version}` : ''})`);
}
for (const path of files) {
  const file = relative(process.cwd(), path) || path;
  if (!existsSync(path)) {
    console.error(`${file}: no such file`);
    bad++;
    continue;
  }
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (e) {
    console.error(`${file}: cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    bad++;
    continue;
  }
  // The loader never throws: every problem, however pathological the file, is a line below.
  const result = loadEnsemble({ file, source }, { kinds: stepKinds, scripts, publicEnv, library });
  const problems = result.ok ? [] : [...result.problems];
  const name = result.ok ? result.ensemble.name : result.name;
  if (names.has(name)) problems.push({ file, line: 1, column: 1, code: 'duplicate-ensemble', message: `ensemble '${name}' is also defined in ${names.get(name)}` });
  names.set(name, file);
  // A queue trigger needs this Worker to consume the queue (wrangler.toml [[queues.consumers]]).
  const consumed = consumedQueues(join(root, 'wrangler.toml')) as string[];
  for (const t of result.ok ? result.ensemble.triggers ?? [] : []) {
    if (t.type === 'queue' && !consumed.includes(t.queue)) {
      const line = source.split('\n').findIndex((l) => l.includes(t.queue)) + 1 || 1;
      problems.push({ file, line, column: 1, code: 'config', message: `the queue '${t.queue}' is not consumed by this Worker: add [[queues.consumers]] queue = "${t.queue}" to wrangler.toml (docs/triggers.md)` });
    }
  }
  for (const p of problems) console.error(formatProblem(p));
  if (problems.length) bad++;
  else if (!warnOnly) console.log(`ok  ${file} (${name})`);
}
const libraryCount = libraryPaths.length + legacy.length;
const libraryLine = libraryCount ? `; ${libraryCount - libraryBad.size} of ${libraryCount} agent and prompt file(s) valid` : '';
console.log(warnOnly && bad === 0 && libraryBad.size === 0 ? `all ${files.length} ensembles valid${libraryPaths.length ? `, all ${libraryPaths.length} agent and prompt files valid` : ''}` : `${files.length - bad} of ${files.length} ensemble file(s) valid${libraryLine}`);
process.exit((bad > 0 || libraryBad.size > 0) && !warnOnly ? 1 : 0);
