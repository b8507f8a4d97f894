/**
 * Normalises how a step names a script: `scripts/auto-approve`, `auto-approve`,
 * `./scripts/auto-approve.ts` all name the module `scripts/auto-approve.ts`, key `auto-approve`.
 */
export function scriptKey(ref: string): string {
  return ref
    .trim()
    .replace(/^\.\//, '')
    .replace(/^scripts\//, '')
    .replace(/\.(m?[jt]s)$/, '');
}
