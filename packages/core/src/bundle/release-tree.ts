import { BundleRefused } from './refused.js';
import { normalMode } from './tar-format.js';
import type { TarEntry } from './tar-reader.js';
import { KIND, TreeStore, type Row } from './tree-store.js';

/**
 * The release as the strict reader accepted it: a proper tree (every entry appears once; nothing goes through a
 * symlink or a file of the archive), modes normalised, each file's SHA-256, each symlink's text. It decides what is
 * unpacked, and its manifest is what the unpacked directory must match, on this machine and on a host, before the
 * release is renamed into place.
 *
 * Memory: the rows live in an SQLite file (tree-store.ts), so what the tree holds in memory does not grow with the
 * number of entries: a bounded page cache, and the directories of the last entry (most entries share them, which
 * saves a lookup per directory level). Call `close()` when done (it removes the file).
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

const KIND_NAMES: readonly NodeKind[] = ['dir', 'file', 'symlink'];

/** Linux follows at most 40 symlinks in one lookup. */
const MAX_HOPS = 40;

export class ReleaseTree {
  private readonly store = new TreeStore();
  private count = 0;
  /** Directories of the tree that the last entry's path went through, outermost first. */
  private knownDirs: string[] = [];

  /** Entries in the tree (the directories implied by paths included). */
  get size(): number {
    return this.count;
  }

  /** Inserts a row; false when the path is in the tree already. */
  private push(
    path: string,
    kind: NodeKind,
    mode: number,
    size: number,
    sha: Uint8Array | null = null,
    link = null as string | null,
  ): boolean {
    const { changes } = this.store.insert.run(path, KIND[kind], mode, size, sha, link, this.count);
    if (changes === 0) return false;
    this.count++;
    return true;
  }

  /**
   * The directories `path` goes through, made as 0755 when they are not in the tree yet (returned, outermost first);
   * refuses a path that goes through a symlink or file of the archive.
   */
  private parentsOf(path: string): string[] {
    const parents: string[] = [];
    let depth = 0;
    for (let cut = path.indexOf('/'); cut > 0; cut = path.indexOf('/', cut + 1), depth++) {
      const prefix = path.slice(0, cut);
      if (this.knownDirs[depth] === prefix) continue;
      this.knownDirs.length = depth;
      const row = this.store.get(prefix);
      if (row === undefined) {
        this.push(prefix, 'dir', 0o755, 0);
        parents.push(prefix);
      } else if (row.kind !== KIND.dir)
        throw new BundleRefused(
          path,
          `goes through the ${row.kind === KIND.symlink ? 'symlink' : 'file'} ${JSON.stringify(prefix)} of the archive`,
        );
      this.knownDirs.push(prefix);
    }
    this.knownDirs.length = depth;
    return parents;
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
    const parents = this.parentsOf(entry.path);
    let added: boolean;
    if (entry.type === 'link') {
      const target = this.store.get(entry.linkpath!);
      if (target === undefined || target.kind !== KIND.file)
        return refuse(
          `is a hard link to ${JSON.stringify(entry.linkpath)}, which is not a regular file earlier in the archive`,
        );
      added = this.push(entry.path, 'file', target.mode, target.size, target.sha);
    } else {
      const mode = normalMode(entry.type, entry.mode);
      added = this.push(
        entry.path,
        entry.type,
        mode,
        entry.type === 'file' ? entry.size : 0,
        null,
        entry.linkpath ?? null,
      );
    }
    if (!added) {
      if (entry.type === 'dir' && this.store.get(entry.path)!.kind === KIND.dir) return undefined;
      refuse('appears twice in the archive (a later entry would replace what was checked)');
    }
    return parents;
  }

  /** Records the SHA-256 (32 bytes) of the file at `path`, the last one added. */
  setDigest(path: string, sha256: Buffer): void {
    this.store.setSha.run(sha256, path);
  }

  /** What the tree holds at `path`, or undefined. */
  get(path: string): TreeNode | undefined {
    const row = this.store.get(path);
    return row && toNode(row);
  }

  /** Every path, in UTF-8 byte order. */
  *paths(): Generator<string> {
    for (let after = ''; ;) {
      const page = this.store.pathsAfter.all(after) as { path: string }[];
      if (page.length === 0) return;
      for (const { path } of page) yield path;
      after = page.at(-1)!.path;
    }
  }

  /** Every symlink: its path and text, in the archive's order. */
  *symlinks(): Generator<[string, string]> {
    for (let after = -1; ;) {
      const page = this.store.linksAfter.all(after) as { seq: number; path: string; link: string }[];
      if (page.length === 0) return;
      for (const { path, link } of page) yield [path, link];
      after = page.at(-1)!.seq;
    }
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
      const text = (this.store.linkText.get(next) as { link: string } | undefined)?.link;
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

  /**
   * The manifest a directory holding exactly this release yields (see manifestLine), in pieces of `rows` entries,
   * sorted as `LC_ALL=C sort` sorts the lines (paths hold no control character, so a line's order is its path's
   * byte order, and a file's `f` line comes before its `h` line). SQLite writes each piece.
   */
  *manifest(rows = 1024): Generator<string> {
    for (let after = ''; ;) {
      const page = this.store.manifestAfter.get(after, rows) as { rows: number; last: string; text: string };
      if (page.rows === 0) return;
      yield page.text;
      after = page.last;
    }
  }

  /** Frees the store (its file is removed). The tree cannot be used afterwards. */
  close(): void {
    this.store.close();
  }
}

function toNode(row: Row): TreeNode {
  const type = KIND_NAMES[row.kind]!;
  if (type === 'symlink') return { type, mode: row.mode, size: 0, link: row.link! };
  if (type === 'dir') return { type, mode: row.mode, size: 0 };
  const node: TreeNode = { type, mode: row.mode, size: row.size };
  if (row.sha) node.sha256 = Buffer.from(row.sha).toString('hex');
  return node;
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
