// Run by tools/gen-registry.mjs (through tsx): whether each ensemble file loads, with the same
// loader and script names as the Worker. The generated registry records it, so `GET /healthz`
// can count invalid files without loading every ensemble in a fresh isolate.
// stdin: {"files":[{"file","source"}],"scripts":["name"],"publicVars":["NAME"]}; stdout: [true|false, ...] in order.
import { readFileSync } from 'node:fs';
import { loadEnsemble } from '../src/ensemble/loader';
import { stepKinds } from '../src/kinds';
import { publicNames } from '../src/secrets';
import { Library, type LibraryFile } from '../src/library/library';

const input = JSON.parse(readFileSync(0, 'utf8')) as { files: { file: string; source: string }[]; library?: LibraryFile[]; scripts: string[]; publicVars: string[] };
const scripts = new Set(input.scripts);
const library = new Library(input.library ?? [], { kinds: stepKinds, scripts });
// The names wrangler.toml makes public; a deployment's own HITL_PUBLIC_VARS may add more, which
// the Worker takes into account when it loads the files itself.
const publicEnv = publicNames(input.publicVars, undefined);
const results = input.files.map((f) => loadEnsemble(f, { kinds: stepKinds, scripts, publicEnv, library }));
// A webhook path, a queue or an address claimed by two ensembles: neither loads (as the registry decides).
const claims = new Map<string, number[]>();
results.forEach((r, i) => {
  for (const t of r.ok ? r.ensemble.triggers ?? [] : []) {
    const keys = t.type === 'webhook' ? [`path ${t.path}`] : t.type === 'queue' ? [`queue ${t.queue}`] : t.type === 'email' ? t.addresses.filter((a) => !a.includes('*')).map((a) => `address ${a.toLowerCase()}`) : [];
    for (const k of keys) claims.set(k, [...new Set([...(claims.get(k) ?? []), i])]);
  }
});
const clashing = new Set([...claims.values()].filter((v) => v.length > 1).flat());
process.stdout.write(JSON.stringify(results.map((r, i) => r.ok && !clashing.has(i))));
