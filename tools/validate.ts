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
// @ts-expect-error a plain .mjs helper shared with the registry generator
import { publicVarNames } from './wrangler-vars.mjs';

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
const scripts = new Set(
  walk(join(root, 'scripts'), /\.(m?[jt]s)$/).filter((p) => !p.endsWith('.d.ts')).map((p) => scriptKey(relative(join(root, 'scripts'), p))),
);

// Env names that are configuration: wrangler.toml's [vars] and its HITL_PUBLIC_VARS, plus a
// HITL_PUBLIC_VARS in the environment of this command (what a deployment sets elsewhere).
const publicEnv = publicNames(publicVarNames(join(root, 'wrangler.toml')) as string[], process.env.HITL_PUBLIC_VARS);

let bad = 0;
const names = new Map<string, string>();
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
  const result = loadEnsemble({ file, source }, { kinds: stepKinds, scripts, publicEnv });
  const problems = result.ok ? [] : [...result.problems];
  const name = result.ok ? result.ensemble.name : result.name;
  if (names.has(name)) problems.push({ file, line: 1, column: 1, code: 'duplicate-ensemble', message: `ensemble '${name}' is also defined in ${names.get(name)}` });
  names.set(name, file);
  for (const p of problems) console.error(formatProblem(p));
  if (problems.length) bad++;
  else if (!warnOnly) console.log(`ok  ${file} (${name})`);
}
console.log(warnOnly && bad === 0 ? `all ${files.length} ensembles valid` : `${files.length - bad} of ${files.length} ensemble file(s) valid`);
process.exit(bad > 0 && !warnOnly ? 1 : 0);
