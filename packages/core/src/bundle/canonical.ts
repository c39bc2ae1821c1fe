import { normalMode } from './tar-format.js';
import type { TarEntry } from './tar-reader.js';
import type { TarWriter } from './tar-writer.js';
import type { EntrySink } from './unpack.js';

/**
 * Re-serialises the entries the strict reader accepted, as they are read, into a canonical archive: plain ustar
 * (PAX only for long names), files, directories (each once, parents before what they hold), symlinks and hard links
 * to earlier files, modes normalised, no owners. What unpacks it — the host's tar, or this machine's own reader —
 * never parses the original bundle, and what it unpacked is then compared with the accepted tree.
 */
export class CanonicalSink implements EntrySink {
  private size = 0;
  constructor(
    private readonly writer: TarWriter,
    /** Put before every path: `r/` in the archive a host unpacks (beside its manifest `m`), nothing locally. */
    private readonly prefix: string,
  ) {}

  async entry(entry: TarEntry, parents: readonly string[]): Promise<void> {
    for (const parent of parents)
      await this.writer.header({
        path: `${this.prefix}${parent}`,
        type: 'dir',
        mode: 0o755,
        size: 0,
        mtime: entry.mtime,
      });
    const linkpath =
      entry.type === 'link' ? `${this.prefix}${entry.linkpath}` : entry.type === 'symlink' ? entry.linkpath : undefined;
    await this.writer.header({
      path: `${this.prefix}${entry.path}`,
      type: entry.type,
      mode: normalMode(entry.type, entry.mode),
      size: entry.type === 'file' ? entry.size : 0,
      mtime: entry.mtime,
      ...(linkpath === undefined ? {} : { linkpath }),
    });
    this.size = entry.type === 'file' ? entry.size : 0;
  }

  data(chunk: Buffer): Promise<void> {
    return this.writer.write(chunk);
  }

  endFile(): Promise<void> {
    return this.writer.pad(this.size);
  }
}
