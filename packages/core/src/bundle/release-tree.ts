import { posix } from 'node:path';
import { BundleRefused } from './refused.js';
import { normalMode } from './tar-format.js';
import type { TarEntry } from './tar-reader.js';

/**
 * The release as the strict reader accepted it: a proper tree (every entry appears once; nothing goes through a
 * symlink or a file of the archive), modes normalised, each file's SHA-256, each symlink's text. It decides what is
 * unpacked, and its manifest is what the unpacked directory must match, on this machine and on a host, before the
 * release is renamed into place.
 */
export interface TreeNode {
  type: 'dir' | 'file' | 'symlink';
  mode: number;
  size: number;
  sha256?: string;
  link?: string;
  /** For a hard link: the file it shares contents with. */
  hardLinkOf?: string;
}

/** Linux follows at most 40 symlinks in one lookup. */
const MAX_HOPS = 40;

export class ReleaseTree {
  readonly nodes = new Map<string, TreeNode>();

  /**
   * Adds an accepted entry. Returns the directories that must exist first (implied by the path, not yet created),
   * or undefined when the entry repeats a directory (nothing to write). Refuses duplicates and entries under a
   * symlink or file.
   */
  add(entry: TarEntry): string[] | undefined {
    const refuse = (reason: string): never => {
      throw new BundleRefused(entry.path, reason);
    };
    const parts = entry.path.split('/');
    const parents: string[] = [];
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const node = this.nodes.get(prefix);
      if (!node) {
        this.nodes.set(prefix, { type: 'dir', mode: 0o755, size: 0 });
        parents.push(prefix);
      } else if (node.type !== 'dir')
        refuse(
          `goes through the ${node.type === 'symlink' ? 'symlink' : 'file'} ${JSON.stringify(prefix)} of the archive`,
        );
    }
    const existing = this.nodes.get(entry.path);
    if (existing) {
      if (existing.type === 'dir' && entry.type === 'dir') return undefined;
      refuse('appears twice in the archive (a later entry would replace what was checked)');
    }
    if (entry.type === 'link') {
      const target = this.nodes.get(entry.linkpath!);
      if (target?.type !== 'file')
        return refuse(
          `is a hard link to ${JSON.stringify(entry.linkpath)}, which is not a regular file earlier in the archive`,
        );
      this.nodes.set(entry.path, { ...target, hardLinkOf: target.hardLinkOf ?? entry.linkpath });
      return parents;
    }
    const type = entry.type === 'file' ? 'file' : entry.type;
    this.nodes.set(entry.path, {
      type,
      mode: normalMode(entry.type, entry.mode),
      size: entry.size,
      ...(entry.type === 'symlink' ? { link: entry.linkpath } : {}),
    });
    return parents;
  }

  setDigest(path: string, sha256: string): void {
    this.nodes.get(path)!.sha256 = sha256;
  }

  /**
   * Resolves every symlink through the whole tree — links through links, whatever their order in the archive, `..`
   * after a link taken physically (from where the link leads, as the kernel does) — and refuses the first that
   * leads outside the release or loops. A path that does not exist in the release is followed lexically.
   */
  checkLinks(): void {
    for (const [path, node] of this.nodes) {
      if (node.type !== 'symlink') continue;
      const outcome = this.resolve(posix.dirname(path), node.link!);
      if (outcome === 'outside')
        throw new BundleRefused(path, `is a symlink to ${JSON.stringify(node.link)}, outside the release`);
      if (outcome === 'loop')
        throw new BundleRefused(
          path,
          `is a symlink to ${JSON.stringify(node.link)} that loops (over ${MAX_HOPS} links)`,
        );
    }
  }

  private resolve(dir: string, link: string): 'inside' | 'outside' | 'loop' {
    const at = dir === '.' ? [] : dir.split('/');
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
      const node = this.nodes.get(next);
      if (node?.type === 'symlink') {
        if (++hops > MAX_HOPS) return 'loop';
        if (node.link!.startsWith('/')) return 'outside';
        queue.push(...node.link!.split('/').reverse());
        continue;
      }
      at.push(part);
    }
    return 'inside';
  }

  /** The manifest lines (sorted by bytes) a directory holding exactly this release yields (see manifestLine). */
  manifest(): string[] {
    const lines: string[] = [];
    for (const [path, node] of this.nodes) {
      if (node.type === 'dir') lines.push(manifestLine(path, 'd', '755'));
      else if (node.type === 'symlink') lines.push(manifestLine(path, 'l', node.link!));
      else {
        const sha256 = node.sha256 ?? this.nodes.get(node.hardLinkOf ?? '')?.sha256 ?? '?';
        lines.push(manifestLine(path, 'f', node.mode.toString(8), String(node.size)), manifestLine(path, 'h', sha256));
      }
    }
    return sortLines(lines);
  }
}

/**
 * One manifest line: `<path>\t<d|f|l|h|other>\t<fields…>`: a directory's mode; a file's mode and size (and a second
 * `h` line with its SHA-256); a symlink's text. Paths and link texts hold no control characters (the reader refuses
 * them), so tabs and newlines delimit. The host's `find -printf` and `sha256sum` write the same lines.
 */
export function manifestLine(path: string, kind: string, ...fields: string[]): string {
  return [path, kind, ...fields].join('\t');
}

/** Sorted by their UTF-8 bytes, as `LC_ALL=C sort` sorts. */
export function sortLines(lines: string[]): string[] {
  return lines
    .map((line) => Buffer.from(line))
    .sort(Buffer.compare)
    .map((bytes) => bytes.toString());
}

/** The first entry where two sorted manifests differ, said for a person, or undefined when they are the same. */
export function manifestDifference(expected: readonly string[], actual: readonly string[]): string | undefined {
  const want = new Set(expected);
  const have = new Set(actual);
  const missing = expected.find((line) => !have.has(line));
  const extra = actual.find((line) => !want.has(line));
  if (missing === undefined && extra === undefined) return undefined;
  const describe = (line: string) => {
    const [path, kind, ...fields] = line.split('\t');
    const what = { d: 'directory', f: 'file', l: 'symlink', h: 'SHA-256' }[kind ?? ''] ?? `entry of type ${kind}`;
    return { path: path!, text: `${what} ${fields.join(' ')}`.trim() };
  };
  const first = [missing, extra].filter((line) => line !== undefined).map((line) => describe(line!));
  const path = first[0]!.path;
  const checked = missing !== undefined && describe(missing).path === path ? describe(missing).text : 'nothing';
  const found = extra !== undefined && describe(extra).path === path ? describe(extra).text : 'nothing';
  return `entry ${JSON.stringify(path)}: the check accepted ${checked}, the unpacked directory holds ${found}`;
}
