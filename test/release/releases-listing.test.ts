import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '#core/errors.js';
import { countingTarget, type Target } from '#core/hosts/target.js';
import { formatHistoryLine, HISTORY_FILE, type HistoryEntry } from '#core/release/history.js';
import {
  HISTORY_LIMIT_BYTES,
  listingHeadline,
  listReleases,
  renderListingSummary,
  type ReleasesListing,
} from '#core/release/listing.js';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { targetKinds } from '../support/targets.js';

const [A, B, C, D, E] = [1, 2, 3, 4, 5].map(releaseName) as [string, string, string, string, string];
const sha = (n: number) => String(n).repeat(40).slice(0, 40);
const run = (n: number) => `run octo-org/app#${n}/1 (Deploy / deploy), host runner-${n}, pid ${100 + n}`;
const at = (minute: number) => `2026-12-03T15:${String(minute).padStart(2, '0')}:00.000Z`;

/** The history of: A live, B live, C live, C rolled back (B live again), C marked bad; E live once, since pruned. */
function history(): HistoryEntry[] {
  const entry = (
    release: string,
    outcome: HistoryEntry['outcome'],
    minute: number,
    from: string | null,
    n = minute,
  ): HistoryEntry => ({
    v: 1,
    at: at(minute),
    release,
    sha: sha(Number(release.slice(-1))),
    run: run(n),
    outcome,
    from,
  });
  return [
    entry(E, 'live', 1, null),
    entry(A, 'live', 2, E),
    entry(B, 'live', 3, A),
    entry(C, 'live', 4, B),
    entry(C, 'rolled-back', 5, null, 5),
    entry(B, 'live', 5, C),
    { ...entry(C, 'bad', 6, null), sha: null },
  ];
}

async function writeHistory(root: string, text: string): Promise<void> {
  await mkdir(join(root, '.deploy-gates'), { recursive: true });
  await writeFile(join(root, HISTORY_FILE), text);
}

describe.each(targetKinds)('releases listing on the $name target', (kind) => {
  let target: Target;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    target = await kind.setup();
    base = await mkdtemp(join(tmpdir(), `dg-releases-${process.pid}-`));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    root = join(base, `app $(touch PWNED) it's ${++n}`);
    await makeReleases(root, [A, B, C, D]);
    await mkdir(join(root, 'releases/.incoming-upload'));
    await mkdir(join(root, 'releases/upload-tmp'));
    await symlink(`releases/${B}`, join(root, 'current'));
  });

  it('lists every release with its state, SHA, time and run from history, in one script, changing nothing', async () => {
    await writeHistory(root, history().map(formatHistoryLine).join(''));
    const before = treeListing(root);
    const { target: counted, roundTrips } = countingTarget(target);
    const listing = await listReleases(counted, { releasesRoot: root });
    expect(roundTrips()).toBe(1);
    expect(treeListing(root)).toEqual(before);
    const expected: ReleasesListing = {
      root,
      releasesDir: join(root, 'releases'),
      current: B,
      currentNote: null,
      history: { path: join(root, HISTORY_FILE), found: true, entries: 7 },
      releases: [
        { name: D, state: 'never-switched', bad: false, sha: null, outcome: null, at: null, run: null },
        { name: C, state: 'bad', bad: true, sha: sha(3), outcome: 'bad', at: at(6), run: run(6) },
        { name: B, state: 'current', bad: false, sha: sha(2), outcome: 'live', at: at(5), run: run(5) },
        { name: A, state: 'was-live', bad: false, sha: sha(1), outcome: 'live', at: at(2), run: run(2) },
      ],
      others: ['.incoming-upload', 'upload-tmp'],
      gone: [E],
    };
    expect(listing).toEqual(expected);
    const summary = renderListingSummary(listing, [['Target', target.description]]);
    expect(summary).toContain(
      `| ${B.replace(/_/g, '\\_')} | ▶ current | \`222222222222\` | live 2026-12-03 15:05:00 UTC |`,
    );
    expect(summary).toContain('history: 7 entries, 1 of its releases no longer under releases/');
  });

  it('says "no history" when history.jsonl does not exist: every release but current never switched', async () => {
    const listing = await listReleases(target, { releasesRoot: root });
    expect(listing.history.found).toBe(false);
    expect(listing.releases.map((r) => [r.name, r.state])).toEqual([
      [D, 'never-switched'],
      [C, 'never-switched'],
      [B, 'current'],
      [A, 'never-switched'],
    ]);
    expect(listingHeadline(listing)).toContain(
      `no history (${join(root, HISTORY_FILE)} does not exist yet): every release but current shows as never switched`,
    );
  });

  it('fails clearly on a history line that does not parse, naming the file and the line', async () => {
    const [first] = history();
    await writeHistory(root, `${formatHistoryLine(first!)}{"v":1,"release":"x"}\n`);
    const listing = listReleases(target, { releasesRoot: root });
    await expect(listing).rejects.toThrow(UserError);
    await expect(listing).rejects.toThrow(
      `${join(root, HISTORY_FILE)} on ${target.description} line 2 is not a deploy-gates history entry`,
    );
    await writeHistory(root, `${formatHistoryLine(first!)}{"v":1,"relea`);
    await expect(listReleases(target, { releasesRoot: root })).rejects.toThrow('line 2 is not JSON');
  });

  it('refuses a releases-root without releases/, and a history that is not a file or is a symlink', async () => {
    await expect(listReleases(target, { releasesRoot: join(base, 'nowhere') })).rejects.toThrow(
      'is not a directory on',
    );
    await mkdir(join(root, HISTORY_FILE), { recursive: true });
    await expect(listReleases(target, { releasesRoot: root })).rejects.toThrow('is not a regular file');
    await rm(join(root, '.deploy-gates'), { recursive: true });
    await writeFile(join(base, `elsewhere-${n}.jsonl`), '');
    await mkdir(join(root, '.deploy-gates'));
    await symlink(join(base, `elsewhere-${n}.jsonl`), join(root, HISTORY_FILE));
    await expect(listReleases(target, { releasesRoot: root })).rejects.toThrow('is a symlink');
  });

  it('names a directory whose name holds a line break among the others, escaped, instead of dropping it', async () => {
    await mkdir(join(root, 'releases', 'evil\nname'));
    await mkdir(join(root, 'releases', `${A}\r`));
    const listing = await listReleases(target, { releasesRoot: root });
    expect(listing.others).toEqual(['.incoming-upload', `${A}\\r`, 'evil\\nname', 'upload-tmp']);
    expect(listing.releases.map((release) => release.name)).toEqual([D, C, B, A]);
  });

  it('refuses a history larger than the limit by its size, without reading it', async () => {
    // A sparse file: no disk used, and nothing of it crosses the connection.
    await writeHistory(root, '');
    await truncate(join(root, HISTORY_FILE), HISTORY_LIMIT_BYTES + 1);
    const listing = listReleases(target, { releasesRoot: root });
    await expect(listing).rejects.toThrow(UserError);
    await expect(listing).rejects.toThrow(
      `${join(root, HISTORY_FILE)} on ${target.description} is ${HISTORY_LIMIT_BYTES + 1} bytes, larger than the 64 MiB the releases action reads; nothing was listed`,
    );
    // At the limit it is read (and here fails as what it is: not JSON).
    await truncate(join(root, HISTORY_FILE), HISTORY_LIMIT_BYTES);
    await expect(listReleases(target, { releasesRoot: root })).rejects.toThrow('line 1 is not JSON');
  }, 60_000);

  it('escapes hostile release names and run labels in the summary table', async () => {
    const hostile = '<img src=x onerror=alert(1)>|[x](javascript:alert(1))**bold**';
    await mkdir(join(root, 'releases', hostile));
    // A release name that reads like the script's own keys must stay a name.
    await mkdir(join(root, 'releases', 'history'));
    const label = 'run <script>alert(1)</script> | @octocat';
    await writeHistory(
      root,
      formatHistoryLine({ v: 1, at: at(1), release: hostile, sha: null, run: label, outcome: 'live', from: null }),
    );
    const listing = await listReleases(target, { releasesRoot: root, releasePattern: '*' });
    expect(listing.releases.map((r) => r.name)).toContain(hostile);
    expect(listing.releases.map((r) => r.name)).toContain('history');
    const summary = renderListingSummary(listing, []);
    expect(summary).not.toMatch(/<img|<script|(?<!\\)\]\(javascript|(?<!\\)\*\*bold/);
    expect(summary).toContain('&lt;img src=x onerror=alert(1)&gt;\\|\\[x\\](javascript:alert(1))\\*\\*bold\\*\\*');
    expect(summary).toContain('run &lt;script&gt;alert(1)&lt;/script&gt; \\| @&#8203;octocat');
    // Every row of the table has its five cells: no name or label broke out of its cell.
    const rows = summary.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| |'));
    for (const row of rows) expect(row.split(/(?<!\\)\|/).length).toBe(7);
  });
});
