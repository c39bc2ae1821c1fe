import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/**
 * The accepted tree's rows on disk: an SQLite file (node:sqlite, built into Node ≥ 22.13) in a private directory
 * (0700, under RUNNER_TEMP) made for it and removed by `close()` — or at the latest when the process exits.
 *
 * Why on disk: held in memory, a tree costs at least ~100 bytes per entry (a path string, a map slot), so no fixed
 * budget holds for every entry count. SQLite keeps a bounded page cache (`cache_size`) and leaves the rest to the
 * file; its B-tree gives what the tree needs — lookup by path, refusal of a second row with the same path, rows in
 * path order (BINARY collation compares the UTF-8 bytes, the order `LC_ALL=C sort` gives the host's manifest) — a
 * hand-written on-disk index would have to re-implement exactly that, with its own bugs. Nothing here needs to
 * survive a crash (the file is scratch): no journal, no sync, one transaction never committed.
 */
const CACHE_KIB = 2048;

const open = new Set<string>();
let cleanupRegistered = false;

/** Kind codes of the `kind` column. */
export const KIND = { dir: 0, file: 1, symlink: 2 } as const;

export interface Row {
  kind: number;
  mode: number;
  size: number;
  sha: Uint8Array | null;
  link: string | null;
}

export class TreeStore {
  private readonly dir: string;
  private readonly db: DatabaseSync;
  readonly insert: StatementSync;
  readonly setSha: StatementSync;
  readonly row: StatementSync;
  readonly linkText: StatementSync;
  readonly linksAfter: StatementSync;
  readonly manifestAfter: StatementSync;
  readonly pathsAfter: StatementSync;

  constructor() {
    this.dir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'dg-tree-'));
    open.add(this.dir);
    if (!cleanupRegistered) {
      cleanupRegistered = true;
      process.once('exit', () => open.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
    }
    // `defensive: false` lets journal_mode be OFF (Node turns SQLite's defensive mode on by default).
    this.db = new DatabaseSync(join(this.dir, 'tree.db'), { defensive: false } as ConstructorParameters<
      typeof DatabaseSync
    >[1]);
    this.db.exec(`PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -${CACHE_KIB};
      PRAGMA temp_store = FILE; PRAGMA locking_mode = EXCLUSIVE;
      CREATE TABLE entry (path TEXT PRIMARY KEY, kind INTEGER NOT NULL, mode INTEGER NOT NULL,
        size INTEGER NOT NULL, sha BLOB, link TEXT, seq INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX link_order ON entry (seq) WHERE kind = ${KIND.symlink};
      BEGIN;`);
    const prepare = (sql: string) => this.db.prepare(sql);
    this.insert = prepare(
      `INSERT OR IGNORE INTO entry (path, kind, mode, size, sha, link, seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.setSha = prepare(`UPDATE entry SET sha = ? WHERE path = ?`);
    this.row = prepare(`SELECT kind, mode, size, sha, link FROM entry WHERE path = ?`);
    this.linkText = prepare(`SELECT link FROM entry WHERE path = ? AND kind = ${KIND.symlink}`);
    // Pages resumed after the last row of the previous page (a keyset; no cursor stays open): symlinks in the
    // archive's order (the first refused is the first in the archive), everything else in path order.
    this.linksAfter = prepare(
      `SELECT seq, path, link FROM entry WHERE kind = ${KIND.symlink} AND seq > ? ORDER BY seq LIMIT 512`,
    );
    this.pathsAfter = prepare(`SELECT path FROM entry WHERE path > ? ORDER BY path LIMIT 512`);
    // A page of manifest lines as one string (see manifestLine in release-tree.ts): one JavaScript string per
    // page instead of an object per row keeps the garbage of a million-entry manifest small.
    this.manifestAfter = prepare(`SELECT count(*) AS rows, max(path) AS last, group_concat(
        CASE kind
          WHEN ${KIND.dir} THEN path || char(9) || 'd' || char(9) || '755' || char(10)
          WHEN ${KIND.symlink} THEN path || char(9) || 'l' || char(9) || link || char(10)
          ELSE path || char(9) || 'f' || char(9) || printf('%o', mode) || char(9) || size || char(10)
            || path || char(9) || 'h' || char(9) || coalesce(lower(hex(sha)), '?') || char(10)
        END, '') AS text
      FROM (SELECT * FROM entry WHERE path > ? ORDER BY path LIMIT ?)`);
  }

  get(path: string): Row | undefined {
    return this.row.get(path) as Row | undefined;
  }

  /** Closes the database and removes its directory. */
  close(): void {
    if (!this.db.isOpen) return;
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
    open.delete(this.dir);
  }
}
