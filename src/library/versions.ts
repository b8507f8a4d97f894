// Versions of library entries: `review@2`, `review@v1.2.0`, `review@latest`. A leading `v` is
// spelling (`v2` is `2`); numbers compare as numbers part by part (`1.10` after `1.9`), other
// parts as text; a definition without a version comes before every versioned one.

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

const parts = (v: string) => v.replace(/^v(?=\d)/i, '').split(/[.\-+]/);

export function compareVersions(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}

export const sameVersion = (a: string | undefined, b: string | undefined) => compareVersions(a, b) === 0;
