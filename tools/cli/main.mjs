#!/usr/bin/env node
// `npm run hitl -- <command>`: list, show, audit, cancel, notify, run, extend, reassign. One file per command; one
// HTTP client (client.mjs). --url (default http://127.0.0.1:8787), --json for scripts.
import { audit } from './audit.mjs';
import { cancel } from './cancel.mjs';
import { client, CliError } from './client.mjs';
import { list } from './list.mjs';
import { notify } from './notify.mjs';
import { run } from './run.mjs';
import { show } from './show.mjs';
import { extend, reassign } from './requests.mjs';
import { terminalJson, terminalSafe } from './terminal.mjs';

const commands = { list, show, audit, cancel, notify, run, extend, reassign };
const usage = `usage: npm run hitl -- <command> [options]
  list [--status s] [--ensemble e] [--approver a] [--limit n] [--cursor c]
                                  executions, newest first: what waits on whom
  show <executionId>              its steps, what it waits on, notification health
  audit <executionId>             its audit log
  cancel <executionId> [--reason text]
  notify <executionId> [--channel c]...   send its notifications again
  run <ensemble> [json]           start a run with this input
  extend <executionId> <step> --by 2h | --until <ISO time>
                                  give an open request more time (at most 365 days after it opened)
  reassign <executionId> <step> --replace a@x --with b@x | --add c@x
                                  hand an approver's place to someone else, or add one
  help                            this text
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
if (flags.help || name === 'help') {
  console.log(usage);
  process.exit(0);
}
if (!name || !commands[name]) {
  console.error(name ? `unknown command '${terminalSafe(name)}'\n${usage}` : usage);
  process.exit(2);
}
try {
  const out = await commands[name](client(String(flags.url ?? process.env.HITL_URL ?? 'http://127.0.0.1:8787')), { args: rest, flags });
  // Tables and text hold what the server sent: stripped of terminal controls. JSON stays exact,
  // with the controls JSON.stringify leaves raw written as \u escapes.
  console.log(flags.json ? terminalJson(out) : terminalSafe(out));
} catch (e) {
  // --json: the API's error envelope as it came (details included), for scripts; else the same in words.
  if (flags.json && e instanceof CliError && e.envelope) console.log(terminalJson(JSON.stringify(e.envelope, null, 2)));
  else console.error(terminalSafe(`error: ${e instanceof Error ? e.message : String(e)}`));
  process.exit(1);
}
