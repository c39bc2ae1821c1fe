import { ArgumentError } from '../errors.js';
import { shellQuote } from '../hosts/target.js';
import type { CheckResult } from '../report/result.js';

/**
 * Shared files and directories (Deployer's `shared_files`/`shared_dirs`, Capistrano's `linked_files`/`linked_dirs`):
 * what lives in `<releases-root>/shared/` and outlives releases (`.env`, `storage/`), linked into each new release
 * before its hooks run and before `current` is switched to it.
 *
 *   <releases-root>/releases/<name>/storage -> ../../shared/storage   (relative, like `current`)
 *
 * The link is made by shell lines (sharedLinkSection) that the switch runs in the same script as its first read
 * under the deploy lock, so over SSH linking adds no round trip. They check every entry before changing anything:
 * the shared entry exists with the declared kind, nothing the release ships is in the way (or `replace` is set), and
 * every parent directory of the link inside the release is a real directory — a release shipping `storage -> /etc`
 * must not make the link of `storage/app.env` land in /etc, whatever `replace` says.
 */
export interface SharedEntry {
  /** Relative to releases-root/shared and to the release, without a trailing `/` (`.env`, `storage`, `bootstrap/cache`). */
  path: string;
  /** Written with a trailing `/`: a directory; otherwise a file. */
  directory: boolean;
}

export interface SharedPlan {
  entries: readonly SharedEntry[];
  /** A file, directory or symlink the release ships at an entry's path is replaced by the link (else refused). */
  replace: boolean;
}

const EXAMPLE = 'e.g. .env or storage/ (a trailing "/" means a directory)';

/** What is wrong with one line of `shared`, or undefined. */
export function sharedPathProblem(line: string): string | undefined {
  const quoted = JSON.stringify(line);
  if (/[\0\r\n]/.test(line)) return `${quoted} holds a NUL or line break; one path per line, ${EXAMPLE}`;
  if (line.startsWith('/'))
    return `${quoted} is absolute; write it relative to releases-root/shared and to the release, ${EXAMPLE}`;
  if (line.length > 1024) return `${quoted.slice(0, 60)}… is longer than 1024 characters`;
  const segments = line.replace(/\/$/, '').split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..'))
    return `${quoted} has an empty, "." or ".." part; write a plain path inside the release, ${EXAMPLE}`;
  return undefined;
}

/** Parses the lines of `shared` (blank and `#` lines already dropped); throws naming the input `shared`. */
export function parseSharedEntries(lines: readonly string[]): SharedEntry[] {
  const entries: SharedEntry[] = [];
  for (const line of lines) {
    const problem = sharedPathProblem(line);
    if (problem) throw new ArgumentError('shared', problem);
    const entry = { path: line.replace(/\/$/, ''), directory: line.endsWith('/') };
    const clash = entries.find((other) => overlaps(other.path, entry.path));
    if (clash)
      throw new ArgumentError(
        'shared',
        `"${line}" ${clash.path === entry.path ? 'is listed twice' : `overlaps "${display(clash)}" (one lies inside the other)`}; list each shared path once, ${EXAMPLE}`,
      );
    entries.push(entry);
  }
  return entries;
}

const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
/** An entry as the user wrote it: `storage/`, `.env`. */
export const display = (entry: SharedEntry) => `${entry.path}${entry.directory ? '/' : ''}`;

/** The parents of a path inside the release, outermost first: `a/b/c` → `a`, `a/b`. */
const parentsOf = (path: string) => {
  const segments = path.split('/');
  return segments.slice(0, -1).map((_, index) => segments.slice(0, index + 1).join('/'));
};

/** The link's text: relative from the link's directory up through releases/<name> to releases-root, then shared/. */
export const relativeLink = (path: string) => `${'../'.repeat(path.split('/').length + 1)}shared/${path}`;

/** The exit of the linking subshell when every entry was linked (anything else: refused, skipped or failed). */
export const SHARED_ALL_LINKED = 100;
const BEGIN = 'shared-begin';
const END = 'shared-end';

/**
 * Shell lines, run in releases-root (under the deploy lock), that link `plan` into the release at `releaseShell`
 * (a shell word, quoted already: a path relative to releases-root such as `releases/<name>`, or absolute). Self-contained: a subshell whose NUL-separated fields
 * readSharedSection reads, followed by anything else the same script prints. They change nothing unless every entry
 * checks out; they skip a path that is not a real directory directly in releases/ (the switch refuses it) and the
 * release `current` already points to (a live release is never changed).
 */
export function sharedLinkSection(plan: SharedPlan, releaseShell: string): string {
  const lines = [
    `printf '${BEGIN}\\0'`,
    '(',
    `dg_fail() { printf 'shared-fail\\0%s\\0%s\\0%s\\0' "$1" "$2" "$3"; exit 0; }`,
    'dg_root=$(pwd -P) || exit 0',
    `dg_p=${releaseShell}`,
    `{ [ -d "$dg_p" ] && [ ! -L "$dg_p" ]; } || { printf 'shared-skip\\0not-a-release\\0'; exit 0; }`,
    'dg_rel=$(cd -- "$dg_p" && pwd -P) && dg_rels=$(cd releases && pwd -P) || exit 0',
    `[ "\${dg_rel%/*}" = "$dg_rels" ] || { printf 'shared-skip\\0not-a-release\\0'; exit 0; }`,
    `if [ -L current ] && [ "$(cd current 2>/dev/null && pwd -P)" = "$dg_rel" ]; then printf 'shared-skip\\0current\\0'; exit 0; fi`,
    // A relative link needs releases/ physically inside releases-root; a releases/ mounted elsewhere gets absolute links.
    `if [ "$dg_rels" = "$dg_root/releases" ]; then dg_abs=; else dg_abs=1; fi`,
    ...plan.entries.flatMap((entry, index) => checkLines(entry, index, plan.replace)),
    ...plan.entries.flatMap((entry, index) => linkLines(entry, index)),
    // Every entry linked (or already): the one-script switch may go on (fast.ts reads $dg_shared).
    `exit ${SHARED_ALL_LINKED}`,
    ')',
    'dg_shared=$?',
    `printf '${END}\\0'`,
  ];
  return lines.join('\n');
}

/** Checks one entry and sets dg_want_<i> (the link text) and dg_was_<i> (what is at the path now); changes nothing. */
function checkLines(entry: SharedEntry, index: number, replace: boolean): string[] {
  const source = `"$dg_root"/${shellQuote(`shared/${entry.path}`)}`;
  const dest = `"$dg_rel"/${shellQuote(entry.path)}`;
  const kindTest = entry.directory ? '-d' : '-f';
  return [
    `if [ ! ${kindTest} ${source} ]; then if [ -e ${source} ]; then dg_fail shared-kind ${index} "$(if [ -d ${source} ]; then echo directory; else echo other; fi)"; else dg_fail shared-missing ${index} ''; fi; fi`,
    ...parentsOf(entry.path).map((parent) => {
      const at = `"$dg_rel"/${shellQuote(parent)}`;
      return `if [ -L ${at} ]; then dg_fail parent-symlink ${index} ${shellQuote(parent)}" -> $(readlink ${at})"; elif [ -e ${at} ] && [ ! -d ${at} ]; then dg_fail parent-file ${index} ${shellQuote(parent)}; fi`;
    }),
    `if [ -n "$dg_abs" ]; then dg_want_${index}="$dg_root"/${shellQuote(`shared/${entry.path}`)}; else dg_want_${index}=${shellQuote(relativeLink(entry.path))}; fi`,
    `if [ -L ${dest} ] && [ "$(readlink ${dest})" = "$dg_want_${index}" ]; then dg_was_${index}=already`,
    `elif [ -L ${dest} ]; then dg_was_${index}=symlink`,
    `elif [ -d ${dest} ]; then dg_was_${index}=directory`,
    `elif [ -e ${dest} ]; then dg_was_${index}=file`,
    `else dg_was_${index}=new; fi`,
    ...(replace
      ? []
      : [`case $dg_was_${index} in symlink|directory|file) dg_fail shipped ${index} "$dg_was_${index}";; esac`]),
  ];
}

/**
 * Links one checked entry: makes its parents, then — from inside the parent, once it is proven to be the release's
 * own directory — removes what the release shipped (replace), links and verifies. Working relative to the parent it
 * stands in, a parent swapped for a symlink after the check can never turn the `rm -rf` onto another tree.
 */
function linkLines(entry: SharedEntry, index: number): string[] {
  const parent = parentsOf(entry.path).at(-1);
  const parentAt = parent === undefined ? '"$dg_rel"' : `"$dg_rel"/${shellQuote(parent)}`;
  const name = `./${shellQuote(entry.path.split('/').at(-1)!)}`;
  const want = `"$dg_want_${index}"`;
  const physical = `"$dg_rel"${parent === undefined ? '' : `/${shellQuote(parent)}`}`;
  const replace = `{ [ "$dg_was_${index}" = new ] || rm -rf -- ${name}; }`;
  return [
    `if [ "$dg_was_${index}" != already ]; then`,
    ...(parent === undefined ? [] : [`  dg_e=$(mkdir -p -- ${parentAt} 2>&1) || dg_fail apply ${index} "$dg_e"`]),
    // What was checked is what is linked into: the parent must still be the release's own directory (exit 7).
    `  dg_e=$(exec 2>&1; cd -- ${parentAt} && { [ "$(pwd -P)" = ${physical} ] || exit 7; } && ${replace} && ln -s -- ${want} ${name} && [ -L ${name} ] && [ "$(readlink ${name})" = ${want} ] || exit 8)`,
    `  case $? in 0) ;; 7) dg_fail parent-moved ${index} '';; *) dg_fail apply ${index} "\${dg_e:-the link is not where it was made}";; esac`,
    'fi',
    `printf 'shared-ok\\0%s\\0%s\\0%s\\0' ${index} "$dg_was_${index}" ${want}`,
  ];
}

export interface SharedOutcome {
  /** Why nothing was linked (`current`: the release is already live; `not-a-release`: the switch refuses it). */
  skipped?: 'current' | 'not-a-release';
  linked: { entry: SharedEntry; was: string; link: string }[];
  failure?: { kind: string; entry: SharedEntry; detail: string };
}

/** Splits what sharedLinkSection printed off the front of `output`; `rest` is what the script printed after it. */
export function readSharedSection(plan: SharedPlan, output: string): { shared: SharedOutcome; rest: string } {
  let at = 0;
  const next = () => {
    const end = output.indexOf('\0', at);
    if (end < 0) throw new Error(`the shared-files script ended early: ${JSON.stringify(output.slice(at, at + 80))}`);
    const field = output.slice(at, end);
    at = end + 1;
    return field;
  };
  if (next() !== BEGIN) throw new Error('the shared-files script printed no start mark');
  const shared: SharedOutcome = { linked: [] };
  const entry = (index: string) => {
    const found = plan.entries[Number(index)];
    if (!found) throw new Error(`the shared-files script named entry ${JSON.stringify(index)}`);
    return found;
  };
  for (let key = next(); key !== END; key = next()) {
    if (key === 'shared-skip') shared.skipped = next() === 'current' ? 'current' : 'not-a-release';
    else if (key === 'shared-ok') shared.linked.push({ entry: entry(next()), was: next(), link: next() });
    else if (key === 'shared-fail') {
      const kind = next();
      shared.failure = { kind, entry: entry(next()), detail: next() };
    } else throw new Error(`the shared-files script printed ${JSON.stringify(key.slice(0, 40))}`);
  }
  return { shared, rest: output.slice(at) };
}

/** Where things are, for messages: physical releases-root, the release's name, the target's description. */
export interface SharedWhere {
  root: string;
  release: string;
  target: string;
}

/** The result rows of a linking (one per entry) and, when it failed, why — naming the path and the fix. */
export function sharedResults(
  shared: SharedOutcome,
  where: SharedWhere,
  durationMs: number,
): { results: CheckResult[]; failure?: string } {
  if (shared.skipped) {
    // The switch resolved the release, yet the linking did not find it as one: never switch without the links.
    const failure = `the shared entries could not be linked into releases/${where.release} (${shared.skipped === 'current' ? 'it is already current' : 'not found as a directory directly in releases/'}); nothing was switched`;
    return { results: [{ name: 'shared', status: 'fail', detail: failure, durationMs }], failure };
  }
  if (shared.failure) {
    const failure = `${sharedFailureText(shared.failure, where)}; nothing was linked into or switched to releases/${where.release}`;
    const name = `shared: ${display(shared.failure.entry)}`;
    return { results: [{ name, status: 'fail', detail: failure, durationMs }], failure };
  }
  const results = shared.linked.map(({ entry, was, link }): CheckResult => {
    const how =
      was === 'already'
        ? 'already linked'
        : was === 'new'
          ? 'linked'
          : `linked, replacing the ${was} the release shipped`;
    return { name: `shared: ${display(entry)}`, status: 'pass', detail: `${how} → ${link}`, durationMs };
  });
  return { results };
}

function sharedFailureText({ kind, entry, detail }: SharedOutcome['failure'] & {}, where: SharedWhere): string {
  const name = display(entry);
  const source = `${where.root}/shared/${entry.path}`;
  const inRelease = `releases/${where.release}/${entry.path}`;
  switch (kind) {
    case 'shared-missing':
      return entry.directory
        ? `shared entry ${name}: ${source} does not exist on ${where.target}; create it: mkdir -p ${shellQuote(source)}`
        : `shared entry ${name}: ${source} does not exist on ${where.target}; create it with the content the release needs, e.g. mkdir -p ${shellQuote(parentDir(source))} && touch ${shellQuote(source)}`;
    case 'shared-kind':
      return `shared entry ${name}: ${source} is ${detail === 'directory' ? 'a directory' : 'not a regular file or directory'} on ${where.target}, not a ${entry.directory ? 'directory' : 'file'}${detail === 'directory' ? `; write "${entry.path}/" for a directory` : ''}`;
    case 'shipped':
      return `shared entry ${name}: the release ships a ${detail} at ${inRelease}; remove it from the bundle, or set shared-replace: true to replace it with the link`;
    case 'parent-symlink':
      return `shared entry ${name}: the release ships a symlink ${detail} at a parent of ${inRelease}, so the link could land outside the release; refused (shared-replace does not apply to parents)`;
    case 'parent-file':
      return `shared entry ${name}: the release ships a file at releases/${where.release}/${detail}, a parent of the link; refused`;
    case 'parent-moved':
      return `shared entry ${name}: the parent directory of ${inRelease} is not inside the release any more; refused`;
    default:
      return `shared entry ${name}: could not link ${inRelease} on ${where.target}: ${detail.trim() || 'no message'}`;
  }
}

const parentDir = (path: string) => path.replace(/\/[^/]*$/, '') || '/';
