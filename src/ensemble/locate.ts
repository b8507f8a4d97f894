import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Path } from '../expression/template';

/**
 * Maps a value path (as zod and the compiler report it) back to a character in the file. Paths
 * that do not exist (a missing required key) point at the nearest existing parent.
 */
export class SourceLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** Offsets of lifted `${` in the file, ascending. */
    private readonly exprOffsets: number[],
    private readonly restore: (s: string) => string,
  ) {}

  position(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /**
   * Where a path really is written: a flow entry that uses a definition of the file holds only the
   * keys of the use; the rest are the definition's (set by the loader once the tree is known).
   */
  remap?: (path: Path) => Path;

  /** The node at `path`, or the deepest existing ancestor. With `key`, the key node of the last segment. */
  private find(path: Path, key = false): Node | undefined {
    if (this.remap) path = this.remap(path);
    let node: unknown = this.doc.contents;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && this.restore(String(p.key.value)) === String(seg));
        if (!pair) return node as Node;
        node = key && last ? pair.key : (pair.value ?? pair.key);
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        node = node.items[seg];
      } else {
        return node as Node;
      }
    }
    return node as Node;
  }

  /** Offset of the value (or, with `key`, the key) at `path`. */
  offsetOf(path: Path, key = false): number {
    return this.find(path, key)?.range?.[0] ?? 0;
  }

  /** Offset of a character inside the `ordinal`-th `${...}` of the string at `path`. */
  offsetInExpression(path: Path, ordinal: number, offset: number): number {
    const node = this.find(path);
    const range = node?.range;
    if (!range) return 0;
    if (ordinal < 0) return range[0];
    const inside = this.exprOffsets.filter((o) => o >= range[0] && o < range[1]);
    const start = inside[ordinal];
    return start === undefined ? range[0] : start + 2 + offset;
  }
}
