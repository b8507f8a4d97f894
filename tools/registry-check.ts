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
process.stdout.write(JSON.stringify(input.files.map((f) => loadEnsemble(f, { kinds: stepKinds, scripts, publicEnv, library }).ok)));
