// What wrangler.toml says is configuration, not a secret: the names of its top-level [vars], and
// the names its HITL_PUBLIC_VARS lists (comma-separated). A small reader is enough for our own file.
import { existsSync, readFileSync } from 'node:fs';

/** The names of wrangler.toml's [vars] and the names its HITL_PUBLIC_VARS lists. */
export function publicVarNames(tomlPath) {
  if (!existsSync(tomlPath)) return [];
  const names = [];
  let inVars = false;
  for (const line of readFileSync(tomlPath, 'utf8').split(/\r?\n/)) {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) { inVars = header[1].trim() === 'vars'; continue; }
    const entry = inVars && /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"([^"]*)"|'([^']*)')?/.exec(line);
    if (!entry) continue;
    names.push(entry[1]);
    if (entry[1] === 'HITL_PUBLIC_VARS') names.push(...(entry[2] ?? entry[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  }
  return [...new Set(names)];
}

/** The queues wrangler.toml's [[queues.consumers]] consume. */
export function consumedQueues(tomlPath) {
  if (!existsSync(tomlPath)) return [];
  const queues = [];
  let inConsumers = false;
  for (const line of readFileSync(tomlPath, 'utf8').split(/\r?\n/)) {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) { inConsumers = header[1].trim() === 'queues.consumers'; continue; }
    const entry = inConsumers && /^\s*queue\s*=\s*"([^"]*)"/.exec(line);
    if (entry) queues.push(entry[1]);
  }
  return queues;
}
