#!/usr/bin/env node
// `npm run hitl -- <command>`: list, show, audit, cancel, notify, run. One file per command; one
// HTTP client (client.mjs). --url (default http://127.0.0.1:8787), --json for scripts.
import { audit } from './audit.mjs';
import { cancel } from './cancel.mjs';
import { client, CliError } from './client.mjs';
import { list } from './list.mjs';
import { notify } from './notify.mjs';
import { run } from './run.mjs';
import { show } from './show.mjs';
import { terminalSafe } from './terminal.mjs';

const commands = { list, show, audit, cancel, notify, run };
const usage = `usage: npm run hitl -- <command> [options]
  list [--status s] [--ensemble e] [--approver a] [--limit n] [--cursor c]
  show <executionId>
  audit <executionId>
  cancel <executionId> [--reason text]
  notify <executionId> [--channel c]...
  run <ensemble> [json]
options: --url http://127.0.0.1:8787 (the Worker), --json (machine-readable output)
the API key comes from API_KEY, else .dev.vars`;

function parse(argv) {
  const args = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { args.push(a); continue; }
    const [key, inline] = a.slice(2).split(/=(.*)/s);
    const value = inline ?? (key === 'json' || key === 'help' ? true : argv[++i]);
    flags[key] = flags[key] === undefined ? value : [flags[key], value].flat();
  }
  return { args, flags };
}

const { args, flags } = parse(process.argv.slice(2));
const [name, ...rest] = args;
if (!name || flags.help || !commands[name]) {
  console.error(name && !commands[name] ? `unknown command '${name}'\n${usage}` : usage);
  process.exit(name || flags.help ? (flags.help ? 0 : 2) : 2);
}
try {
  const out = await commands[name](client(String(flags.url ?? process.env.HITL_URL ?? 'http://127.0.0.1:8787')), { args: rest, flags });
  // Tables and text hold what the server sent: stripped of terminal controls. JSON is exact (its
  // strings escape every control character).
  console.log(flags.json ? out : terminalSafe(out));
} catch (e) {
  console.error(terminalSafe(`error: ${e instanceof Error ? e.message : String(e)}`));
  process.exit(1);
}
