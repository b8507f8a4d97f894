// The name an ensemble file will have, read at build time without the loader, or undefined when
// only the loader can tell (then the registry loads that file at once instead of on first use).

/**
 * Only the plain form is trusted: one top-level `ensemble: name` line (a comment after a space).
 * A file that writes the key any other way (quoted, a value on the next line, a flow mapping)
 * gets undefined; a file without the key is named after itself, as the loader names it.
 *
 * @param {string} path
 * @param {string} source
 * @returns {string | undefined}
 */
export function buildName(path, source) {
  const text = source.replace(/^\uFEFF/, '');
  const keys = text.match(/^["']?ensemble["']?[ \t]*:/gm) ?? [];
  if (keys.length === 0 && !/^[{[]/m.test(text)) return path.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/i, '');
  if (keys.length !== 1 || /^[{[]/m.test(text)) return undefined;
  return /^ensemble:[ \t]*(["']?)([A-Za-z0-9_-]+)\1(?:[ \t]+#.*)?[ \t]*\r?$/m.exec(text)?.[2];
}
