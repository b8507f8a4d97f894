// What wrangler.toml says that the tools need: the names that are configuration, not secrets (the
// names of its top-level [vars], and the names its HITL_PUBLIC_VARS lists), and the queues this
// Worker consumes. A small reader is enough for our own file.
import { existsSync, readFileSync } from 'node:fs';

/** The lines of one table of wrangler.toml (`vars`, `queues.consumers`: every one of that name). */
function linesOf(tomlPath, table) {
  if (!existsSync(tomlPath)) return [];
  const out = [];
  let inside = false;
  for (const line of readFileSync(tomlPath, 'utf8').split(/\r?\n/)) {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) { inside = header[1].trim() === table; continue; }
    if (inside) out.push(line);
  }
  return out;
}

/** The names of wrangler.toml's [vars] and the names its HITL_PUBLIC_VARS lists. */
export function publicVarNames(tomlPath) {
  const names = [];
  for (const line of linesOf(tomlPath, 'vars')) {
    const entry = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"([^"]*)"|'([^']*)')?/.exec(line);
    if (!entry) continue;
    names.push(entry[1]);
    if (entry[1] === 'HITL_PUBLIC_VARS') names.push(...(entry[2] ?? entry[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  }
  return [...new Set(names)];
}

/** The queues wrangler.toml's [[queues.consumers]] consume. */
export function consumedQueues(tomlPath) {
  return linesOf(tomlPath, 'queues.consumers').flatMap((line) => /^\s*queue\s*=\s*"([^"]*)"/.exec(line)?.[1] ?? []);
}
