// Run by tools/gen-registry.mjs (through tsx): whether each ensemble file loads, with the same
// loader and script names as the Worker. The generated registry records it, so `GET /healthz`
// can count invalid files without loading every ensemble in a fresh isolate.
// stdin: {"files":[{"file","source"}],"scripts":["name"]}; stdout: [true|false, ...] in order.
import { readFileSync } from 'node:fs';
import { loadEnsemble } from '../src/ensemble/loader';

const input = JSON.parse(readFileSync(0, 'utf8')) as { files: { file: string; source: string }[]; scripts: string[] };
const scripts = new Set(input.scripts);
process.stdout.write(JSON.stringify(input.files.map((f) => loadEnsemble(f, { scripts }).ok)));
