import { BundleRefused } from './refused.js';
import { normalMode } from './tar-format.js';
import type { TarEntry } from './tar-reader.js';

/**
 * The release as the strict reader accepted it: a proper tree (every entry appears once; nothing goes through a
 * symlink or a file of the archive), modes normalised, each file's SHA-256, each symlink's text. It decides what is
 * unpacked, and its manifest is what the unpacked directory must match, on this machine and on a host, before the
 * release is renamed into place.
 *
 * Memory: a tree of 30,000 entries must fit in a few MiB, so there is no object per entry (V8 spends 50–100 bytes on
 * each, more with a hex digest string): a path → index map, and per index a kind, mode and size in typed arrays, the
 * digest as 32 raw bytes in one buffer; link texts only for symlinks.
 */
export type NodeKind = 'dir' | 'file' | 'symlink';

export interface TreeNode {
  type: NodeKind;
  mode: number;
  size: number;
  /** Lower-case hex; for a hard link the digest of the file it shares contents with. */
  sha256?: string;
  link?: string;
}

const KIND_CODES: Record<NodeKind, number> = { dir: 0, file: 1, symlink: 2 };
const KIND_NAMES: readonly NodeKind[] = ['dir', 'file', 'symlink'];
const NO_DIGEST = -1;

/** Linux follows at most 40 symlinks in one lookup. */
const MAX_HOPS = 40;

/** Growable typed columns, one row per entry. */
class Columns {
  kind = new Uint8Array(1024);
  mode = new Uint16Array(1024);
  size = new Float64Array(1024);
  /** The row whose digest a file has (itself, or the file a hard link shares contents with), or NO_DIGEST. */
  digestRow = new Int32Array(1024);
  digests = Buffer.alloc(1024 * 32);
  hasDigest = new Uint8Array(1024);

  ensure(rows: number): void {
    if (rows <= this.kind.length) return;
    const length = this.kind.length * 2;
    const grow = <T extends Uint8Array | Uint16Array | Float64Array | Int32Array>(old: T, make: (n: number) => T) => {
      const next = make(length);
      next.set(old);
      return next;
    };
    this.kind = grow(this.kind, (n) => new Uint8Array(n));
    this.mode = grow(this.mode, (n) => new Uint16Array(n));
    this.size = grow(this.size, (n) => new Float64Array(n));
    this.digestRow = grow(this.digestRow, (n) => new Int32Array(n));
    this.hasDigest = grow(this.hasDigest, (n) => new Uint8Array(n));
    const digests = Buffer.alloc(length * 32);
    this.digests.copy(digests);
    this.digests = digests;
  }
}

export class ReleaseTree {
  private readonly rows = new Map<string, number>();
  private readonly paths: string[] = [];
  private readonly links = new Map<number, string>();
  private readonly columns = new Columns();

  /** Entries in the tree (the directories implied by paths included). */
  get size(): number {
    return this.paths.length;
  }

  private push(path: string, kind: NodeKind, mode: number, size: number, digestRow = NO_DIGEST): number {
    const row = this.paths.length;
    this.columns.ensure(row + 1);
    this.rows.set(path, row);
    this.paths.push(path);
    this.columns.kind[row] = KIND_CODES[kind];
    this.columns.mode[row] = mode;
    this.columns.size[row] = size;
    this.columns.digestRow[row] = digestRow;
    return row;
  }

  private kindOf(row: number): NodeKind {
    return KIND_NAMES[this.columns.kind[row]!]!;
  }

  /**
   * Adds an accepted entry. Returns the directories that must exist first (implied by the path, not yet created),
   * or undefined when the entry repeats a directory (nothing to write). Refuses duplicates and entries under a
   * symlink or file.
   */
  add(entry: TarEntry): string[] | undefined {
    const refuse = (reason: string): never => {
      throw new BundleRefused(entry.path, reason);
    };
    const parents: string[] = [];
    for (let cut = entry.path.indexOf('/'); cut > 0; cut = entry.path.indexOf('/', cut + 1)) {
      const prefix = entry.path.slice(0, cut);
      const row = this.rows.get(prefix);
      if (row === undefined) {
        this.push(prefix, 'dir', 0o755, 0);
        parents.push(prefix);
      } else if (this.columns.kind[row] !== KIND_CODES.dir)
        refuse(
          `goes through the ${this.kindOf(row) === 'symlink' ? 'symlink' : 'file'} ${JSON.stringify(prefix)} of the archive`,
        );
    }
    const existing = this.rows.get(entry.path);
    if (existing !== undefined) {
      if (this.columns.kind[existing] === KIND_CODES.dir && entry.type === 'dir') return undefined;
      refuse('appears twice in the archive (a later entry would replace what was checked)');
    }
    if (entry.type === 'link') {
      const target = this.rows.get(entry.linkpath!);
      if (target === undefined || this.columns.kind[target] !== KIND_CODES.file)
        return refuse(
          `is a hard link to ${JSON.stringify(entry.linkpath)}, which is not a regular file earlier in the archive`,
        );
      this.push(
        entry.path,
        'file',
        this.columns.mode[target]!,
        this.columns.size[target]!,
        this.columns.digestRow[target],
      );
      return parents;
    }
    const row = this.push(entry.path, entry.type, normalMode(entry.type, entry.mode), entry.size);
    if (entry.type === 'file') this.columns.digestRow[row] = row;
    if (entry.type === 'symlink') this.links.set(row, entry.linkpath!);
    return parents;
  }

  /** Records the SHA-256 (32 bytes) of the file at `path`, the last one added. */
  setDigest(path: string, sha256: Buffer): void {
    const row = this.rows.get(path)!;
    sha256.copy(this.columns.digests, row * 32);
    this.columns.hasDigest[row] = 1;
  }

  private node(row: number): TreeNode {
    const type = this.kindOf(row);
    const node: TreeNode = { type, mode: this.columns.mode[row]!, size: this.columns.size[row]! };
    if (type === 'symlink') node.link = this.links.get(row);
    if (type === 'file') node.sha256 = this.digestHex(row);
    return node;
  }

  private digestHex(row: number): string | undefined {
    const from = this.columns.digestRow[row]!;
    if (from === NO_DIGEST || !this.columns.hasDigest[from]) return undefined;
    return this.columns.digests.toString('hex', from * 32, from * 32 + 32);
  }

  /** The row of `path` (see `entryAt`), or undefined. */
  rowOf(path: string): number | undefined {
    return this.rows.get(path);
  }

  /** Path and node of a row (0 ≤ row < size). */
  entryAt(row: number): { path: string; node: TreeNode } {
    return { path: this.paths[row]!, node: this.node(row) };
  }

  /** Every symlink: its path and text. */
  *symlinks(): Generator<[string, string]> {
    for (const [row, link] of this.links) yield [this.paths[row]!, link];
  }

  /**
   * Resolves every symlink through the whole tree — links through links, whatever their order in the archive, `..`
   * after a link taken physically (from where the link leads, as the kernel does) — and refuses the first that
   * leads outside the release or loops. A path that does not exist in the release is followed lexically.
   */
  checkLinks(): void {
    for (const [path, link] of this.symlinks()) {
      const slash = path.lastIndexOf('/');
      const outcome = this.resolve(slash < 0 ? '' : path.slice(0, slash), link);
      if (outcome === 'outside')
        throw new BundleRefused(path, `is a symlink to ${JSON.stringify(link)}, outside the release`);
      if (outcome === 'loop')
        throw new BundleRefused(path, `is a symlink to ${JSON.stringify(link)} that loops (over ${MAX_HOPS} links)`);
    }
  }

  private resolve(dir: string, link: string): 'inside' | 'outside' | 'loop' {
    const at = dir === '' ? [] : dir.split('/');
    const queue = link.split('/').reverse();
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.pop()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (at.length === 0) return 'outside';
        at.pop();
        continue;
      }
      const next = at.length === 0 ? part : `${at.join('/')}/${part}`;
      const row = this.rows.get(next);
      const text = row === undefined ? undefined : this.links.get(row);
      if (text !== undefined) {
        if (++hops > MAX_HOPS) return 'loop';
        if (text.startsWith('/')) return 'outside';
        queue.push(...text.split('/').reverse());
        continue;
      }
      at.push(part);
    }
    return 'inside';
  }

  /** The manifest lines of one row (see manifestLine). */
  private lines(row: number): string {
    const path = this.paths[row]!;
    const kind = this.columns.kind[row];
    if (kind === KIND_CODES.dir) return `${manifestLine(path, 'd', '755')}\n`;
    if (kind === KIND_CODES.symlink) return `${manifestLine(path, 'l', this.links.get(row)!)}\n`;
    const mode = this.columns.mode[row]!.toString(8);
    return `${manifestLine(path, 'f', mode, String(this.columns.size[row]))}\n${manifestLine(path, 'h', this.digestHex(row) ?? '?')}\n`;
  }

  /**
   * The manifest a directory holding exactly this release yields, as text pieces of about `piece` bytes, sorted as
   * `LC_ALL=C sort` sorts the lines (paths hold no control character, so a line's order is its path's byte order,
   * and a file's `f` line comes before its `h` line). Only a sorted index array is held besides the tree.
   */
  *manifest(piece = 64 * 1024): Generator<string> {
    const order = new Int32Array(this.paths.length);
    for (let row = 0; row < order.length; row++) order[row] = row;
    order.sort((a, b) => compareUtf8(this.paths[a]!, this.paths[b]!));
    let text = '';
    for (const row of order) {
      text += this.lines(row);
      if (text.length >= piece) {
        yield text;
        text = '';
      }
    }
    if (text !== '') yield text;
  }
}

/** Compares two strings in the order of their UTF-8 bytes (= code points; JS compares UTF-16 code units). */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–DFFF, code points over U+FFFF) come after U+E000–FFFF in code point order.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * One manifest line: `<path>\t<d|f|l|h|other>\t<fields…>`: a directory's mode; a file's mode and size (and a second
 * `h` line with its SHA-256); a symlink's text. Paths and link texts hold no control characters (the reader refuses
 * them), so tabs and newlines delimit. The host's `find -printf` and `sha256sum` write the same lines.
 */
export function manifestLine(path: string, kind: string, ...fields: string[]): string {
  return [path, kind, ...fields].join('\t');
}
