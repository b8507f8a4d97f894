#!/usr/bin/env node
// `npm run validate [files...]`: the loader's report for authors (runs the TypeScript loader via tsx).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url));
const r = spawnSync(process.execPath, [tsx, '--tsconfig', `${root}tsconfig.json`, `${root}tools/validate.ts`, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
