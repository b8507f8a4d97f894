/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions), so `timout`,
 * `minApprovls` and `reqeuster` are each one edit from what was meant.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `written` most likely meant, if one is close enough: case-insensitively equal, or
 * within a third of its length in edits (at least 1, at most 3; none for one or two letters).
 *
 * @example suggest('minApprovls', ['minApprovals', 'approvers']) // 'minApprovals'
 * @example suggest('colour', ['approvers'])                      // undefined
 */
export function suggest(written: string, candidates: readonly string[]): string | undefined {
  const w = written.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = name.toLowerCase() === w ? 0 : editDistance(w, name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (!best) return undefined;
  // One or two letters are within an edit of too much: only a difference of case is suggested.
  const limit = written.length <= 2 ? 0 : Math.min(3, Math.max(1, Math.floor(written.length / 3)));
  return best.distance <= limit ? best.name : undefined;
}

/** ` — did you mean 'x'?` when there is a close candidate, else the list of what is allowed. */
export function didYouMean(written: string, candidates: readonly string[]): string {
  const close = suggest(written, candidates);
  return close ? ` — did you mean '${close}'?` : ` (expected one of: ${candidates.join(', ')})`;
}
