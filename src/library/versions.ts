// Versions of library entries: `review@2`, `review@v1.2.0`, `review@latest`. A leading `v` is
// spelling (`v2` is `2`); numbers compare as numbers part by part (`1.10` after `1.9`), other
// parts as text, a pre-release before its release (semver); a definition without a version comes
// before every versioned one. `latest` picks the highest release or pre-release.

export interface Ref {
  name: string;
  /** As written after `@` (`latest` included); undefined when there is no `@`. */
  version?: string;
}

/** `name@version` split at its last `@`. */
export function parseRef(ref: string): Ref {
  const at = ref.lastIndexOf('@');
  if (at <= 0) return { name: ref.trim() };
  return { name: ref.slice(0, at).trim(), version: ref.slice(at + 1).trim() };
}

const parts = (v: string) => v.replace(/^v(?=\d)/i, '').split('.');

/** Numbers as numbers, other parts as text. */
function compareParts(pa: string[], pb: string[]): number {
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : !Number.isNaN(nx) ? -1 : !Number.isNaN(ny) ? 1 : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * As semver orders them: the release part by part, then a pre-release (`1.0.0-beta`) before its
 * release (`1.0.0`); build metadata (`+sha`) is ignored.
 */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const [coreA, preA] = splitPre(a);
  const [coreB, preB] = splitPre(b);
  const core = compareParts(parts(coreA), parts(coreB));
  if (core !== 0) return core;
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  return compareParts(preA.split('.'), preB.split('.'));
}

function splitPre(v: string): [string, string | undefined] {
  const noBuild = v.replace(/\+.*$/, '');
  const dash = noBuild.indexOf('-');
  return dash === -1 ? [noBuild, undefined] : [noBuild.slice(0, dash), noBuild.slice(dash + 1)];
}

export const sameVersion = (a: string | undefined, b: string | undefined) => compareVersions(a, b) === 0;
