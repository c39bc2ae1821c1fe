import { ArgumentError, UserError } from '../errors.js';
import { shellPath, type Target } from '../hosts/target.js';
import { markdownText } from '../report/markdown.js';
import {
  badReleases,
  HISTORY_DIR,
  HISTORY_FILE,
  parseHistory,
  type HistoryEntry,
  type HistoryOutcome,
} from './history.js';
import { DEFAULT_RELEASE_PATTERN, matchingReleases } from './switch.js';

/**
 * The releases of a releases-root with their history (Deployer's `dep releases`): every release directory under
 * releases/, newest name first, with its state, the SHA it was built from, when its latest history entry was written
 * and by which run. Read in one script (one round trip over SSH): the releases directory, `current`, and
 * `.deploy-gates/history.jsonl` (history.ts), which is parsed strictly — a line that does not parse fails the listing.
 * Changes nothing on the target, and takes no lock: history is append-only, so a listing sees it as of one moment.
 */

/**
 * - `current`: `current` points to it;
 * - `bad`: marked bad and not made live since (a rollback without `release` never goes to it);
 * - `was-live`: `current` pointed to it once (history says so);
 * - `never-switched`: history has no entry making it live (unpacked, never switched to; or no history at all).
 */
export const LISTED_STATES = ['current', 'bad', 'was-live', 'never-switched'] as const;
export type ListedState = (typeof LISTED_STATES)[number];

export interface ListedRelease {
  name: string;
  state: ListedState;
  /** Marked bad and not live since; also true for a `current` release that was marked bad. */
  bad: boolean;
  /** The commit it was built from, from its newest history entry that names one; else null. */
  sha: string | null;
  /** Its newest history entry: what happened, when (ISO 8601 UTC) and by which run; null without one. */
  outcome: HistoryOutcome | null;
  at: string | null;
  run: string | null;
}

export interface ReleasesListing {
  /** Physical path of releases-root and of its releases/ directory. */
  root: string;
  releasesDir: string;
  /** The release `current` points to, or null. */
  current: string | null;
  /** What `current` is when it is not a release (`../elsewhere`, `a real directory`), else null. */
  currentNote: string | null;
  /** history.jsonl: where it is, whether it exists, how many entries it holds. */
  history: { path: string; found: boolean; entries: number };
  /** Every release directory (matching the release pattern, plus current), newest name first. */
  releases: ListedRelease[];
  /**
   * Directories under releases/ that do not match the release pattern (left out of `releases`); a name holding a line
   * break (never a release) is here with its control characters escaped (`evil\\nname`).
   */
  others: string[];
  /** Releases history names that are no longer under releases/ (pruned or removed). */
  gone: string[];
}

export interface ListingOptions {
  releasesRoot: string;
  releasePattern?: string;
}

/**
 * The most of history.jsonl a listing reads: far beyond any real history (an entry is ~300 bytes), and well under what
 * Node can hold as one string (512 MiB). A larger file is refused by its size, before any of it is sent.
 */
export const HISTORY_LIMIT_BYTES = 64 * 1024 * 1024;

/** The one script: facts as NUL-terminated key/value fields, then `history` and the file's bytes to the end. */
function listingScript(releasesRoot: string): string {
  return [
    `cd -- ${shellPath(releasesRoot)} 2>/dev/null || { printf 'noroot\\0'; exit 0; }`,
    `printf 'root\\0%s\\0' "$(pwd -P)"`,
    `[ -d releases ] || { printf 'noreleases\\0'; exit 0; }`,
    `printf 'releases\\0%s\\0' "$(cd releases && pwd -P)"`,
    `if [ -L current ]; then printf 'link\\0%s\\0' "$(readlink current)"; if [ -d current ]; then printf 'resolves\\0%s\\0' "$(cd current && pwd -P)"; fi`,
    `elif [ -e current ]; then printf 'currentreal\\0'; fi`,
    `for d in releases/* releases/.[!.]* releases/..?*; do if [ -d "$d" ] && [ ! -L "$d" ]; then printf 'release\\0%s\\0' "\${d#releases/}"; fi; done`,
    `h=${HISTORY_FILE}`,
    `if [ -L ${HISTORY_DIR} ] || [ -L "$h" ]; then printf 'historysymlink\\0'`,
    `elif [ ! -e "$h" ]; then printf 'nohistory\\0'`,
    `elif [ ! -f "$h" ]; then printf 'historynotfile\\0'`,
    `elif [ ! -r "$h" ]; then printf 'historyunreadable\\0'`,
    // `head -c` bounds what is sent even when the file grows after its size was read.
    `else s=$(wc -c < "$h" | tr -d ' '); if [ "\${s:-0}" -gt ${HISTORY_LIMIT_BYTES} ]; then printf 'historysize\\0%s\\0' "$s"`,
    `else printf 'history\\0'; head -c ${HISTORY_LIMIT_BYTES + 1} -- "$h" || exit 4; fi; fi`,
  ].join('\n');
}

const FLAGS = [
  'noroot',
  'noreleases',
  'currentreal',
  'nohistory',
  'historysymlink',
  'historynotfile',
  'historyunreadable',
];
const HISTORY_PROBLEMS: Record<string, string> = {
  // As release-switch: history is read and appended only in a real file, never through a link to elsewhere.
  historysymlink: `is a symlink (or its ${HISTORY_DIR} directory is); release-switch reads and appends history only in a real file there`,
  historynotfile: 'is not a regular file',
  historyunreadable: 'is not readable by the deploy user',
};
const VALUES = ['root', 'releases', 'link', 'resolves', 'release', 'historysize'];

interface Facts {
  flags: Set<string>;
  values: Map<string, string[]>;
  historyText?: string;
}

/** Walks the fields by key (a value, e.g. a directory name, may read like a key); history's text is the rest. */
function readFacts(out: string): Facts {
  const facts: Facts = { flags: new Set(), values: new Map() };
  let at = 0;
  const next = () => {
    const end = out.indexOf('\0', at);
    if (end < 0) return undefined;
    const field = out.slice(at, end);
    at = end + 1;
    return field;
  };
  for (let key = next(); key !== undefined; key = next()) {
    if (key === 'history') {
      facts.historyText = out.slice(at);
      break;
    }
    if (FLAGS.includes(key)) facts.flags.add(key);
    else if (VALUES.includes(key)) facts.values.set(key, [...(facts.values.get(key) ?? []), next() ?? '']);
    else throw new Error(`the listing script printed ${JSON.stringify(key.slice(0, 40))}`);
  }
  return facts;
}

/** Lists the releases of releases-root on the target with their history; one script, changes nothing. */
export async function listReleases(target: Target, options: ListingOptions): Promise<ReleasesListing> {
  const { releasesRoot } = options;
  const result = await target.run(listingScript(releasesRoot), { reuse: true });
  if (result.exitCode !== 0)
    throw new UserError(
      `Reading ${releasesRoot} on ${target.description} failed (exit ${result.exitCode}): ${result.stderr.trim() || 'no output'}`,
    );
  const facts = readFacts(result.stdout);
  const where = `on ${target.description}`;
  if (facts.flags.has('noroot'))
    throw new ArgumentError(
      'releasesRoot',
      `${releasesRoot} is not a directory ${where}; pass the directory that holds releases/ and current, e.g. /var/www/app`,
    );
  if (facts.flags.has('noreleases'))
    throw new ArgumentError(
      'releasesRoot',
      `${releasesRoot} has no releases/ directory ${where}; pass the directory that holds releases/ and current, e.g. /var/www/app`,
    );
  const value = (key: string) => facts.values.get(key)?.[0];
  const root = value('root')!;
  const historyPath = `${root}/${HISTORY_FILE}`;
  const problem = Object.keys(HISTORY_PROBLEMS).find((flag) => facts.flags.has(flag));
  if (problem) throw new UserError(`${historyPath} ${where} ${HISTORY_PROBLEMS[problem]}; nothing was listed`);
  checkHistorySize(value('historysize'), facts.historyText, `${historyPath} ${where}`);
  const history = facts.historyText === undefined ? [] : parseHistory(facts.historyText, `${historyPath} ${where}`);
  return buildListing(facts, history, { root, historyPath, pattern: options.releasePattern });
}

/** Refuses a history larger than HISTORY_LIMIT_BYTES (told by the host, or grown past it while it was read). */
function checkHistorySize(told: string | undefined, text: string | undefined, where: string): void {
  const grown = text !== undefined && Buffer.byteLength(text) > HISTORY_LIMIT_BYTES;
  if (told === undefined && !grown) return;
  throw new UserError(
    `${where} is ${told ? `${told} bytes, ` : ''}larger than the ${HISTORY_LIMIT_BYTES / 1048576} MiB the releases action reads; nothing was listed. A real history is far smaller: check that it is the history.jsonl release-switch appends to (not a copied log, a sparse or corrupted file), and move it aside under the deploy lock if it is not`,
  );
}

/** A name from the host with its line breaks and other control characters written as escapes, for `others`. */
const escapedName = (name: string) =>
  name.replace(
    /\p{Cc}/gu,
    (c) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );

function buildListing(
  facts: Facts,
  history: readonly HistoryEntry[],
  { root, historyPath, pattern }: { root: string; historyPath: string; pattern?: string },
): ReleasesListing {
  const releasesDir = facts.values.get('releases')?.[0] ?? `${root}/releases`;
  const all = facts.values.get('release') ?? [];
  // A name with a line break is never a release (see matchingReleases); it is named, escaped, among the others.
  const broken = all.filter((name) => /[\n\r]/.test(name)).map(escapedName);
  const names = all.filter((name) => !/[\n\r]/.test(name)).sort();
  const resolves = facts.values.get('resolves')?.[0];
  const link = facts.values.get('link')?.[0];
  const resolvedName = resolves?.slice(releasesDir.length + 1);
  const current =
    resolves !== undefined && resolves.startsWith(`${releasesDir}/`) && names.includes(resolvedName!)
      ? resolvedName!
      : null;
  const currentNote = current
    ? null
    : facts.flags.has('currentreal')
      ? 'a real file or directory, not a symlink'
      : link !== undefined
        ? `a symlink to ${link}, not a release`
        : null;
  const matching = new Set(matchingReleases(names, pattern ?? DEFAULT_RELEASE_PATTERN));
  const listed = names.filter((name) => matching.has(name) || name === current).reverse();
  return {
    root,
    releasesDir,
    current,
    currentNote,
    history: { path: historyPath, found: facts.historyText !== undefined, entries: history.length },
    releases: listed.map((name) => listedRelease(name, current, history)),
    others: [...names.filter((name) => !matching.has(name) && name !== current), ...broken].sort(),
    gone: [...new Set(history.map((entry) => entry.release))].filter((name) => !names.includes(name)),
  };
}

function listedRelease(name: string, current: string | null, history: readonly HistoryEntry[]): ListedRelease {
  const own = history.filter((entry) => entry.release === name);
  const latest = own.at(-1);
  const bad = badReleases(own).has(name);
  const wasLive = own.some((entry) => entry.outcome !== 'bad');
  const state: ListedState = name === current ? 'current' : bad ? 'bad' : wasLive ? 'was-live' : 'never-switched';
  return {
    name,
    state,
    bad,
    sha: own.findLast((entry) => entry.sha !== null)?.sha ?? null,
    outcome: latest?.outcome ?? null,
    at: latest?.at ?? null,
    run: latest?.run ?? null,
  };
}

const STATE_TEXT: Record<ListedState, string> = {
  current: '▶ current',
  bad: '✖ bad',
  'was-live': 'was live',
  'never-switched': 'never switched',
};

/** What the listing says in one line, for the log and the result row. */
export function listingHeadline(listing: ReleasesListing): string {
  const count = `${listing.releases.length} release${listing.releases.length === 1 ? '' : 's'}`;
  const current = listing.current
    ? `current ${listing.current}`
    : `no current release${listing.currentNote ? ` (current is ${listing.currentNote})` : ''}`;
  return `${count}, ${current}; ${historyNote(listing)}`;
}

function historyNote(listing: ReleasesListing): string {
  if (!listing.history.found)
    return `no history (${listing.history.path} does not exist yet): every release but current shows as never switched`;
  return `history: ${listing.history.entries} entr${listing.history.entries === 1 ? 'y' : 'ies'}${listing.gone.length > 0 ? `, ${listing.gone.length} of its releases no longer under releases/` : ''}`;
}

/**
 * The job summary: a headline, one row per release, and the facts. Every name, link, run label and path comes from
 * the host and is escaped (markdownText): a release directory called `<img src=x onerror=…>` or `[x](https://…)` is
 * shown as text.
 */
export function renderListingSummary(listing: ReleasesListing, facts: readonly (readonly [string, string])[]): string {
  const cell = markdownText;
  const rows = listing.releases.map((release) => {
    const state = `${STATE_TEXT[release.state]}${release.bad && release.state === 'current' ? ' (marked bad)' : ''}`;
    const when = release.at ? `${release.outcome} ${release.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}` : '—';
    return `| ${cell(release.name)} | ${cell(state)} | ${release.sha ? `\`${release.sha.slice(0, 12)}\`` : '—'} | ${cell(when)} | ${cell(release.run ?? '—')} |`;
  });
  return [
    `### 📦 ${cell(`Releases: ${listingHeadline(listing)}`)}`,
    '',
    '| Release | State | SHA | Latest entry | By |',
    '| --- | --- | --- | --- | --- |',
    ...(rows.length > 0 ? rows : ['| (none) | | | | |']),
    ...(facts.length > 0
      ? ['', '| | |', '| --- | --- |', ...facts.map(([label, text]) => `| ${cell(label)} | ${cell(text)} |`)]
      : []),
    '',
  ].join('\n');
}
