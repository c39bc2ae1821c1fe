import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import vm from 'node:vm';
import { ArgumentError } from '../errors.js';
import { jsonMismatches } from '../http/expectations.js';
import { formatDuration } from '../units/duration.js';
import { coreContext, type CoreContext } from '../context.js';
import { tally, type CheckResult } from '../report/result.js';
import { countingTarget, shellPath, shellQuote, type CommandResult, type Target } from '../hosts/target.js';
import type { Redactor } from '../redact.js';
import { oneLine } from '../text.js';
import { freshScript, judgeFresh } from '../backup/fresh.js';
import { describeJsonSyntaxError, jsonSyntaxError } from './json-syntax.js';
import type { Gate, GateKind } from './model.js';

/**
 * Runs gates on a release directory through a Target. Every check is a read-only POSIX shell script
 * run with the release as working directory, so a local workspace and a host over SSH are judged alike.
 * Every gate runs, even after a failure, so the report is complete.
 */
export interface GateRunOptions {
  /** Budget of a command gate without its own `timeout`, and of every file check. */
  timeoutMs: number;
}

export interface GateResult extends CheckResult {
  kind: GateKind;
}

export interface GatesOutcome {
  /** The release directory as the target resolved it (absolute). */
  releaseDir: string;
  results: GateResult[];
  passed: number;
  failed: number;
  total: number;
  /** Scripts run on the target (over SSH, one round trip each): one for all file checks, one per command gate. */
  roundTrips: number;
}

/** At most this much of a JSON file is read; release metadata files are small. */
export const JSON_MAX_BYTES = 1024 * 1024;

type Verdict = { pass: boolean; detail: string };

/** Resolves the release directory on the target; a missing one is a user error that names the fix. */
export async function resolveReleaseDir(target: Target, releaseDir: string, timeoutMs: number): Promise<string> {
  const dir = shellPath(releaseDir.startsWith('-') ? `./${releaseDir}` : releaseDir);
  const check = await target.run(
    `if [ -d ${dir} ]; then cd ${dir} && pwd; elif [ -e ${dir} ]; then echo notdir; else echo missing; fi`,
    { timeoutMs },
  );
  const answer = check.stdout.trim();
  if (check.exitCode === 0 && answer.startsWith('/')) return answer;
  throw releaseDirProblem(target, releaseDir, answer, check);
}

/** Why the release directory could not be opened, as a user error that names the fix. */
function releaseDirProblem(target: Target, releaseDir: string, answer: string, check: CommandResult): ArgumentError {
  const where = `on ${target.description}`;
  if (answer === 'notdir')
    return new ArgumentError(
      'releaseDir',
      `${releaseDir} ${where} is not a directory; pass the directory the release was unpacked into`,
    );
  if (answer === 'missing') {
    return new ArgumentError(
      'releaseDir',
      `${releaseDir} does not exist ${where}; pass the directory the release was unpacked into (e.g. releases/20251102_154900-f0959baf) — was the bundle unpacked before this step?`,
    );
  }
  return new ArgumentError(
    'releaseDir',
    `cannot open ${releaseDir} ${where} (exit ${check.exitCode}${check.timedOut ? ', timed out' : ''}): ${flat(check.stderr) || 'no message'}`,
  );
}

/** One line of command output or an error for a detail, at most 200 characters; secrets masked before the cut. */
const flat = (text: string, max = 200, redactor?: Redactor) => oneLine(text, max, redactor);

/** The most telling line of a failed command's output: an error line if there is one, else the last line. */
function telling(stdout: string, stderr: string, redactor?: Redactor): string {
  const lines = `${stderr}\n${stdout}`
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  return flat(
    lines.find((line) => /fatal|error|exception|not found|denied/i.test(line)) ?? lines.at(-1) ?? 'no output',
    200,
    redactor,
  );
}

/** Sets `p` to the path (always `./…`, so no path can pass for an option) and defines `what`, which names what is there. */
function prelude(path: string): string {
  return [
    `p=${shellQuote(`./${path}`)}`,
    'what() { if [ -L "$p" ] && [ ! -e "$p" ]; then echo "dangling-symlink"; elif [ -d "$p" ]; then echo directory; elif [ -f "$p" ]; then echo file; elif [ -e "$p" ]; then echo other; else echo missing; fi; }',
  ].join('\n');
}

const FOUND: Record<string, string> = {
  missing: 'missing',
  'dangling-symlink': 'a symlink whose target does not exist',
  directory: 'a directory',
  file: 'a regular file',
  other: 'a special file (socket, fifo or device)',
};

const found = (what: string) => FOUND[what.trim()] ?? `unexpected answer ${JSON.stringify(flat(what, 80))}`;

function bytes(size: number): string {
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 ** 2) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * Reads the value of KEY from a .env file the way Laravel (phpdotenv) and shells write it: `KEY=value`,
 * `KEY="value"` (with \" and \\ escapes), `KEY='value'`, `export KEY=value`, `KEY=value # comment`, CRLF endings.
 * The last definition counts, as in Laravel (phpdotenv's immutable writer keeps a variable set before loading, but
 * lets a later line of the same file overwrite an earlier one). The value is printed without a newline, straight
 * into the hash.
 */
const DOTENV_AWK = `
function name_of(line,   eq, n) {
  sub(/\\r$/, "", line); sub(/^[ \\t]+/, "", line)
  if (substr(line, 1, 1) == "#") return ""
  if (line ~ /^export[ \\t]+/) sub(/^export[ \\t]+/, "", line)
  eq = index(line, "="); if (eq == 0) return ""
  n = substr(line, 1, eq - 1); sub(/[ \\t]+$/, "", n)
  rest = substr(line, eq + 1)
  return n
}
function value_of(v,   c, out, i, ch, nx, j) {
  sub(/^[ \\t]+/, "", v); c = substr(v, 1, 1)
  if (c == "\\"") {
    out = ""; i = 2
    while (i <= length(v)) {
      ch = substr(v, i, 1)
      if (ch == "\\\\" && i < length(v)) { nx = substr(v, i + 1, 1); if (nx == "\\"" || nx == "\\\\" || nx == "$") { out = out nx; i += 2; continue } }
      if (ch == "\\"") break
      out = out ch; i++
    }
    return out
  }
  if (c == "'") { v = substr(v, 2); j = index(v, "'"); return j ? substr(v, 1, j - 1) : v }
  sub(/[ \\t]+#.*$/, "", v); sub(/[ \\t]+$/, "", v)
  return v
}
mode == "count" { if (name_of($0) == k) count++ }
mode == "value" { if (name_of($0) == k) { v = value_of(rest); seen = 1 } }
END { if (mode == "count") print count + 0; else if (seen) printf "%s", v }
`;

function envMatchScript(file: string, key: string): string {
  const awk = shellQuote(DOTENV_AWK);
  return [
    prelude(file),
    'if [ ! -f "$p" ]; then echo "absent $(what)"; exit 0; fi',
    'if [ ! -r "$p" ]; then echo unreadable; exit 0; fi',
    'if command -v sha256sum >/dev/null 2>&1; then h="sha256sum"; elif command -v shasum >/dev/null 2>&1; then h="shasum -a 256"; elif command -v openssl >/dev/null 2>&1; then h="openssl dgst -sha256 -r"; else echo nohash; exit 0; fi',
    `n=$(awk -v mode=count -v k=${shellQuote(key)} ${awk} "$p")`,
    'if [ "$n" = 0 ]; then echo nokey; exit 0; fi',
    `d=$(awk -v mode=value -v k=${shellQuote(key)} ${awk} "$p" | $h | cut -d" " -f1)`,
    'echo "found $n $d"',
  ].join('\n');
}

function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}

/** What one check script printed, whether it ran alone or as a section of the batch. */
interface Section {
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
  /** A command gate's time by the host's clock (10 ms steps), where the host has /proc/uptime. */
  hostMs?: number;
}

type FileGate = Exclude<Gate, { kind: 'command' }>;

/** The read-only script of a file, dir, absent, symlink, json or env-match gate (run in the release directory). */
function checkScript(gate: FileGate): string {
  switch (gate.kind) {
    case 'file':
      return `${prelude(gate.path)}\nw=$(what); echo "$w"; if [ "$w" = file ]; then if [ -r "$p" ]; then wc -c < "$p" | tr -d " "; else echo unreadable; fi; fi`;
    case 'dir':
      return `${prelude(gate.path)}\nw=$(what); echo "$w"; if [ -w "$p" ]; then echo writable; else echo read-only; fi; id -un 2>/dev/null || id -u`;
    case 'absent':
      return `${prelude(gate.path)}\nwhat`;
    case 'symlink':
      return `${prelude(gate.path)}\nif [ -L "$p" ]; then if [ -e "$p" ]; then echo symlink; else echo dangling; fi; readlink "$p"; readlink -f "$p" 2>/dev/null || echo; else what; fi`;
    case 'json':
      return `${prelude(gate.path)}\nw=$(what); echo "$w"; if [ "$w" = file ]; then head -c ${JSON_MAX_BYTES + 1} "$p"; fi`;
    case 'env-match':
      return envMatchScript(gate.file, gate.key);
    case 'backup-fresh':
      return freshScript(gate);
  }
}

/** The lines a gate's check script printed; throws GateTrouble when the script gave no answer. */
function sectionLines(section: Section, options: GateRunOptions): string[] {
  if (section.timedOut) throw new GateTrouble(`the check timed out after ${formatDuration(options.timeoutMs)}`);
  if (section.exitCode !== 0)
    throw new GateTrouble(
      `the check script failed (exit ${section.exitCode}): ${flat(section.stderr) || 'no message'}`,
    );
  return section.stdout.split('\n');
}

function judgeFile(gate: Extract<FileGate, { kind: 'file' }>, lines: string[]): Verdict {
  const [what = '', size = ''] = lines;
  if (what !== 'file') return { pass: false, detail: `expected a regular file, found ${found(what)}` };
  if (size === 'unreadable') return { pass: false, detail: 'a regular file, but not readable by the deploy user' };
  const length = Number(size);
  if (gate.minSize !== undefined && length < gate.minSize)
    return { pass: false, detail: `${bytes(length)}, below min-size ${bytes(gate.minSize)}` };
  return { pass: true, detail: `regular file, ${bytes(length)}` };
}

function judgeDir(gate: Extract<FileGate, { kind: 'dir' }>, lines: string[]): Verdict {
  const [what = '', writable = '', user = ''] = lines;
  if (what !== 'directory') return { pass: false, detail: `expected a directory, found ${found(what)}` };
  if (!gate.writable) return { pass: true, detail: 'directory' };
  return writable === 'writable'
    ? { pass: true, detail: `directory, writable by ${user}` }
    : {
        pass: false,
        detail: `directory, but not writable by ${user} (fix ownership/permissions, e.g. chmod -R ug+w ${gate.path})`,
      };
}

function judgeAbsent(lines: string[]): Verdict {
  const [what = ''] = lines;
  return what === 'missing'
    ? { pass: true, detail: 'absent' }
    : { pass: false, detail: `must not exist, found ${found(what)}` };
}

function judgeSymlink(gate: Extract<FileGate, { kind: 'symlink' }>, lines: string[]): Verdict {
  const [what = '', link = '', resolved = ''] = lines;
  if (what === 'dangling') return { pass: false, detail: `symlink → ${link}, but its target does not exist` };
  if (what !== 'symlink') return { pass: false, detail: `expected a symlink, found ${found(what)}` };
  if (gate.pointsTo !== undefined) {
    const wanted = gate.pointsTo.replace(/(.)\/+$/, '$1');
    if (wanted !== link && wanted !== resolved)
      return {
        pass: false,
        detail: `symlink → ${link}${resolved && resolved !== link ? ` (${resolved})` : ''}, expected ${gate.pointsTo}`,
      };
  }
  return { pass: true, detail: `symlink → ${link}${resolved && resolved !== link ? ` (${resolved})` : ''}` };
}

/** A json gate's script prints the file after its kind: a failed read is the file's problem, not the script's. */
function judgeJson(
  gate: Extract<FileGate, { kind: 'json' }>,
  section: Section,
  options: GateRunOptions,
  redactor: Redactor,
): Verdict {
  if (section.timedOut) throw new GateTrouble(`reading the file timed out after ${formatDuration(options.timeoutMs)}`);
  const newline = section.stdout.indexOf('\n');
  const what = section.stdout.slice(0, newline < 0 ? undefined : newline);
  if (what !== 'file') return { pass: false, detail: `expected a JSON file, found ${found(what)}` };
  if (section.exitCode !== 0)
    return { pass: false, detail: `cannot read it: ${flat(section.stderr) || `exit ${section.exitCode}`}` };
  const body = section.stdout.slice(newline + 1);
  if (Buffer.byteLength(body) > JSON_MAX_BYTES)
    return { pass: false, detail: `larger than ${bytes(JSON_MAX_BYTES)}; json gates read at most that much` };
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch {
    // JSON.parse's message quotes the file (`"APP_KEY=ba"...`): the detail tells where, never what.
    const syntax = jsonSyntaxError(body);
    return {
      pass: false,
      detail: `not valid JSON${syntax ? ` ${describeJsonSyntaxError(syntax)}` : ''}; its content is not shown`,
    };
  }
  // The value found is shown (cut to one line): masked before it is cut, so no part of a known secret is left.
  const mismatches = jsonMismatches(document, gate.expect, redactor);
  if (mismatches.length > 0) return { pass: false, detail: mismatches.join('; ') };
  return {
    pass: true,
    detail:
      gate.expect.length > 0
        ? `valid JSON; ${gate.expect.map((assertion) => assertion.text).join(', ')}`
        : 'valid JSON',
  };
}

/** The host sends the SHA-256 of the key's value; it is compared here with the secret's, neither value shown. */
function judgeEnvMatch(gate: Extract<FileGate, { kind: 'env-match' }>, lines: string[]): Verdict {
  const [answer = ''] = lines;
  const [state = '', count = '', digest = ''] = answer.split(' ');
  if (state === 'absent') return { pass: false, detail: `${gate.file}: expected a file, found ${found(count)}` };
  if (state === 'unreadable') return { pass: false, detail: `${gate.file} is not readable by the deploy user` };
  if (state === 'nohash') return { pass: false, detail: 'the target has no sha256sum, shasum or openssl to hash with' };
  if (state === 'nokey') return { pass: false, detail: `${gate.key} is not set in ${gate.file}` };
  if (state !== 'found' || !/^[0-9a-f]{64}$/.test(digest))
    throw new GateTrouble(
      `unexpected answer from the hash script (${flat(answer, 20).replace(/[0-9a-f]{16,}/g, '…')})`,
    );
  const note = Number(count) > 1 ? ` (${gate.key} is defined ${count} times; the last counts, as in Laravel)` : '';
  // The secret never leaves this machine: the host sends the SHA-256 of its value, compared here.
  const expected = createHash('sha256').update(gate.secret, 'utf8').digest('hex');
  return sameDigest(digest, expected)
    ? {
        pass: true,
        detail: `${gate.key} in ${gate.file} matches the secret (SHA-256 compared; neither value shown)${note}`,
      }
    : {
        pass: false,
        detail: `${gate.key} in ${gate.file} does not match the secret (SHA-256 differs; neither value shown)${note}`,
      };
}

/** Judges what a gate's check script printed; throws GateTrouble when the script gave no answer. */
function judgeSection(gate: FileGate, section: Section, options: GateRunOptions, redactor: Redactor): Verdict {
  if (gate.kind === 'json') return judgeJson(gate, section, options, redactor);
  const lines = sectionLines(section, options);
  switch (gate.kind) {
    case 'file':
      return judgeFile(gate, lines);
    case 'dir':
      return judgeDir(gate, lines);
    case 'absent':
      return judgeAbsent(lines);
    case 'symlink':
      return judgeSymlink(gate, lines);
    case 'backup-fresh':
      return judgeFresh(lines.join('\n'), gate);
    case 'env-match':
      return judgeEnvMatch(gate, lines);
  }
}

type CommandGate = Extract<Gate, { kind: 'command' }>;

/**
 * Whether `pattern` matches, judged within the gate's timeout: the output is the release's and the pattern the
 * workflow's, and a pattern that backtracks (`^(a+)+$` against 30 a's and a `!`) would otherwise hold the step for
 * minutes after the command ended. V8 stops a script, a regular expression within it included, at a vm timeout.
 */
function matchesWithin(pattern: RegExp, text: string, timeoutMs: number): boolean | 'timeout' {
  const context = vm.createContext({ pattern, text });
  try {
    return vm.runInContext('pattern.test(text)', context, { timeout: Math.max(1, Math.round(timeoutMs)) }) as boolean;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return 'timeout';
    throw error;
  }
}

/** Judges what one command gate did: its exit status, output and whether it ran past its timeout. */
function judgeCommand(gate: CommandGate, section: Section, timeoutMs: number, redactor: Redactor): Verdict {
  if (section.timedOut) return { pass: false, detail: `timed out after ${formatDuration(timeoutMs)} (killed)` };
  if (section.exitCode !== gate.expectExit) {
    return {
      pass: false,
      detail: `exit ${section.exitCode}, expected ${gate.expectExit}: ${telling(section.stdout, section.stderr, redactor)}`,
    };
  }
  const output = `${section.stdout}\n${section.stderr}`;
  const matched = gate.expectOutput ? matchesWithin(gate.expectOutput, output, timeoutMs) : true;
  if (matched === 'timeout') {
    return {
      pass: false,
      detail: `exit ${section.exitCode}, but matching the output against /${gate.expectOutput!.source}/ took longer than ${formatDuration(timeoutMs)}; write a pattern without nested repeats such as (a+)+`,
    };
  }
  if (!matched) {
    return {
      pass: false,
      detail: `exit ${section.exitCode}, but the output does not match /${gate.expectOutput!.source}/: ${flat(output, 160, redactor) || 'no output'}`,
    };
  }
  const last = section.stdout
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .at(-1);
  return { pass: true, detail: `exit ${section.exitCode}${last ? `: ${flat(last, 120, redactor)}` : ''}` };
}

/**
 * One script that runs every command gate in the release directory (`dir`, already quoted), one after another in
 * the order given, each with stdin from /dev/null and killed at its own timeout by the host's `timeout` where it has
 * one (the whole script's timeout, the sum of them, bounds it otherwise). Framed like batchScript.
 */
function commandsScript(
  dir: string,
  commands: readonly { gate: CommandGate; timeoutMs: number }[],
  marker: string,
): string {
  const lines = [
    `cd ${dir} || exit 1`,
    `m=${marker}`,
    'exec 3>&1',
    'if command -v timeout >/dev/null 2>&1; then t=1; else t=; fi',
  ];
  commands.forEach(({ gate, timeoutMs }, index) => {
    const command = shellQuote(gate.command);
    lines.push(
      `printf '%s begin ${index}\\n' "$m"`,
      // The host's clock (/proc/uptime, read by a builtin: no fork), for when the markers reach the runner late.
      '{ read -r a _ </proc/uptime; } 2>/dev/null || a=',
      `e=$( { if [ -n "$t" ]; then timeout -s KILL ${(timeoutMs / 1000).toFixed(3)} sh -c ${command}; else sh -c ${command}; fi; } </dev/null 2>&1 1>&3 ); r=$?`,
      '{ read -r b _ </proc/uptime; } 2>/dev/null || b=',
      `printf '\\n%s end ${index} %s %s %s\\n%s\\n%s done ${index}\\n' "$m" "$r" "$a" "$b" "$e" "$m"`,
    );
  });
  return lines.join('\n');
}

/**
 * One script that resolves the release directory and runs every file check in it, one after another, each in its
 * own subshell. Its first line is the resolved directory (or `notdir` / `missing`, and nothing else). Each check's
 * output is framed by lines carrying a random marker that no file on the host can predict:
 * `<m> begin <i>`, its stdout, `\n<m> end <i> <exit>`, its stderr, `\n<m> done <i>`.
 */
function batchScript(releaseDir: string, checks: readonly FileGate[], marker: string): string {
  const dir = shellPath(releaseDir.startsWith('-') ? `./${releaseDir}` : releaseDir);
  const lines = [
    `if [ -d ${dir} ]; then cd ${dir} && pwd || exit 1; elif [ -e ${dir} ]; then echo notdir; exit 0; else echo missing; exit 0; fi`,
    `m=${marker}`,
    'exec 3>&1',
  ];
  checks.forEach((gate, index) => {
    lines.push(
      `printf '%s begin ${index}\\n' "$m"`,
      // stdout goes straight out (fd 3); stderr is kept to follow the check's exit status.
      `e=$( ( ${checkScript(gate)}\n) 2>&1 1>&3 ); r=$?`,
      `printf '\\n%s end ${index} %s\\n%s\\n%s done ${index}\\n' "$m" "$r" "$e" "$m"`,
    );
  });
  return lines.join('\n');
}

/** Cuts the batch's output into one section per check; a check the batch did not finish has no section. */
function sections(stdout: string, count: number, marker: string): (Omit<Section, 'timedOut'> | undefined)[] {
  const found: (Omit<Section, 'timedOut'> | undefined)[] = [];
  let at = 0;
  for (let index = 0; index < count; index++) {
    const begin = `${marker} begin ${index}\n`;
    const start = stdout.indexOf(begin, at);
    if (start < 0) break;
    const body = start + begin.length;
    const endMark = `\n${marker} end ${index} `;
    const end = stdout.indexOf(endMark, body);
    if (end < 0) break;
    const statusEnd = stdout.indexOf('\n', end + endMark.length);
    const doneMark = `\n${marker} done ${index}\n`;
    const done = statusEnd < 0 ? -1 : stdout.indexOf(doneMark, statusEnd);
    if (done < 0) break;
    // `<exit>`, or for a command gate `<exit> <uptime before> <uptime after>` (the host's, empty where it has none).
    const [exitCode, before, after] = stdout.slice(end + endMark.length, statusEnd).split(' ');
    const hostMs = (Number(after) - Number(before)) * 1000;
    found.push({
      stdout: stdout.slice(body, end),
      exitCode: Number(exitCode),
      stderr: stdout.slice(statusEnd + 1, done),
      ...(before && after && Number.isFinite(hostMs) ? { hostMs } : {}),
    });
    at = done + doneMark.length - 1;
  }
  return found;
}

/** A check that could not give an answer (timeout, broken shell); the gate fails with this reason. */
class GateTrouble extends Error {}

type IndexedCheck = { gate: FileGate; index: number };
type IndexedCommand = { gate: CommandGate; index: number; timeoutMs: number };
/**
 * When each command gate began and ended (performance.now()), as its markers arrived; `flooded`: the gate that was
 * running when the commands' output passed MAX_COMMANDS_OUTPUT (the script was stopped there).
 */
type CommandTimes = { begun: number[]; ended: number[]; flooded?: number };

/**
 * What the command gates may print together. The commands run in the release (a crafted bundle's `artisan` among
 * them): one that streams without end would fill the runner's memory before its timeout; it is stopped here instead.
 */
export const MAX_COMMANDS_OUTPUT = 32 << 20;

/** Starts the command gates' script; their start and end times are taken from the markers as they stream in. */
function startCommands(
  target: Target,
  dir: string,
  commands: readonly IndexedCommand[],
  marker: string,
  logger: CoreContext['logger'],
): { run: Promise<CommandResult | undefined>; times: CommandTimes } {
  const times: CommandTimes = { begun: [], ended: [] };
  if (commands.length === 0) return { run: Promise.resolve(undefined), times };
  const { begun, ended } = times;
  // Only the tail a marker split across chunks can start in is kept: searching all output on every chunk was
  // quadratic (a command printing 30 MB took 50 s, and its pipe stalled into a false timeout).
  const keep = `\n${marker} done ${commands.length}\n`.length;
  let streamed = '';
  let printed = 0;
  const flood = new AbortController();
  const run = target.run(commandsScript(dir, commands, marker), {
    timeoutMs: commands.reduce((sum, command) => sum + command.timeoutMs, 0) + 10_000,
    signal: flood.signal,
    onStdout: (chunk) => {
      printed += chunk.length;
      if (printed > MAX_COMMANDS_OUTPUT && !flood.signal.aborted) {
        times.flooded = ended.length;
        flood.abort();
      }
      streamed = streamed.slice(-keep) + chunk;
      for (let index = ended.length; index < commands.length; index++) {
        const begin = `${marker} begin ${index}\n`;
        if (begun[index] === undefined && streamed.includes(begin)) {
          begun[index] = performance.now();
          logger.info(`Running ${commands[index]!.gate.name}`);
          streamed = streamed.slice(streamed.indexOf(begin) + begin.length - 1);
        }
        const done = `\n${marker} done ${index}\n`;
        if (begun[index] === undefined || !streamed.includes(done)) break;
        ended[index] = performance.now();
        streamed = streamed.slice(streamed.indexOf(done) + done.length - 1);
      }
    },
  });
  return { run, times };
}

/** The verdict of one file check from its section of the batch's output (none: the batch did not get to it). */
function checkVerdict(
  gate: FileGate,
  section: Omit<Section, 'timedOut'> | undefined,
  batch: CommandResult,
  options: GateRunOptions,
  { target, redactor }: { target: Target; redactor: Redactor },
): Verdict {
  try {
    if (section) return judgeSection(gate, { ...section, timedOut: false }, options, redactor);
    if (batch.timedOut) {
      const timedOut = { stdout: '', stderr: '', exitCode: batch.exitCode, timedOut: true };
      return judgeSection(gate, timedOut, options, redactor);
    }
    throw new GateTrouble(
      `the check script did not finish (exit ${batch.exitCode}): ${flat(batch.stderr) || 'no message'}`,
    );
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const detail =
      error instanceof GateTrouble
        ? error.message
        : `could not run the check on ${target.description}: ${flat(error.message)}`;
    return { pass: false, detail };
  }
}

/**
 * A command gate's time: when its markers arrived here (finer), unless the host's clock (10 ms steps) says otherwise
 * by more than its step — the markers reached a busy runner late, or together (a 200 ms gate then looked instant).
 */
function commandTime(times: CommandTimes, position: number, hostMs: number | undefined): number {
  const begun = times.begun[position];
  const arrived = begun === undefined ? 0 : (times.ended[position] ?? performance.now()) - begun;
  return hostMs !== undefined && Math.abs(hostMs - arrived) > 10 ? hostMs : arrived;
}

/** The verdict of one command gate from its section of the commands' output, or why it has none. */
function commandVerdict(
  command: IndexedCommand,
  position: number,
  settled: PromiseSettledResult<CommandResult | undefined>,
  sections: readonly (Omit<Section, 'timedOut'> | undefined)[],
  durationMs: number,
  started: boolean,
  { target, redactor, flooded }: { target: Target; redactor: Redactor; flooded?: number },
): Verdict {
  const { gate, timeoutMs } = command;
  const run = settled.status === 'fulfilled' ? settled.value : undefined;
  const section = sections[position];
  if (flooded !== undefined && position >= flooded && !section)
    return {
      pass: false,
      detail:
        position === flooded
          ? `printed more than ${MAX_COMMANDS_OUTPUT >> 20} MiB, so it was stopped; a gate's command should print a line or two (a version, a status), not a stream`
          : 'not run: an earlier command gate printed too much and was stopped',
    };
  // The host's `timeout -s KILL` ends a command with 137 (128 + KILL); one killed by something else ends sooner.
  if (section)
    return judgeCommand(
      gate,
      { ...section, timedOut: section.exitCode === 137 && durationMs >= timeoutMs * 0.9 },
      timeoutMs,
      redactor,
    );
  if (run?.timedOut && started)
    return judgeCommand(gate, { stdout: '', stderr: '', exitCode: run.exitCode, timedOut: true }, timeoutMs, redactor);
  const why =
    settled.status === 'rejected'
      ? flat(String((settled.reason as Error)?.message ?? settled.reason))
      : run?.timedOut
        ? 'an earlier command gate ran past its timeout'
        : `exit ${run?.exitCode}: ${flat(run?.stderr ?? '') || 'no message'}`;
  return { pass: false, detail: `could not run the check on ${target.description} (${why})` };
}

const gateResult = (gate: Gate, verdict: Verdict, durationMs: number): GateResult => ({
  name: gate.name,
  kind: gate.kind,
  status: verdict.pass ? 'pass' : 'fail',
  detail: verdict.detail,
  durationMs,
});

/** The gates split into file checks (one batch) and command gates (one script, each with its own timeout). */
function splitGates(gates: readonly Gate[], options: GateRunOptions) {
  const indexed = gates.map((gate, index) => ({ gate, index }));
  const checks = indexed.filter((entry): entry is IndexedCheck => entry.gate.kind !== 'command');
  const commands = indexed
    .filter((entry): entry is { gate: CommandGate; index: number } => entry.gate.kind === 'command')
    .map((entry): IndexedCommand => ({ ...entry, timeoutMs: entry.gate.timeoutMs ?? options.timeoutMs }));
  return { checks, commands };
}

/**
 * Runs every gate and returns one result per gate, in the order given; never stops at a failure.
 * Two scripts, run at the same time, so over a slow link the gates cost about one round trip: one resolves the
 * release directory and runs every file, directory, symlink, JSON and env-match check; the other runs the command
 * gates one after another, in order, each with its own timeout. Both frame their output per gate; a command gate's
 * time is measured here, from its markers as they arrive. `roundTrips` counts the scripts run on the target.
 */
export async function runGates(
  target: Target,
  releaseDir: string,
  gates: readonly Gate[],
  options: GateRunOptions,
  context: Partial<CoreContext> = {},
): Promise<GatesOutcome> {
  const { logger, redactor } = coreContext(context);
  const { target: counted, roundTrips } = countingTarget(target);
  const results = new Array<GateResult>(gates.length);
  const { checks, commands } = splitGates(gates, options);
  logger.info(`Checking ${gates.length} gate(s) in ${releaseDir} on ${target.description}`);

  const marker = `dg-${randomBytes(12).toString('hex')}`;
  const started = performance.now();
  const script = batchScript(
    releaseDir,
    checks.map(({ gate }) => gate),
    marker,
  );
  const batchRun = counted
    .run(script, { timeoutMs: options.timeoutMs })
    .then((result) => ({ result, ms: performance.now() - started }));
  const dir = shellPath(releaseDir.startsWith('-') ? `./${releaseDir}` : releaseDir);
  const { run: commandsRun, times } = startCommands(counted, dir, commands, marker, logger);
  // Both settle before anything is judged, so nothing is left running on the target when this returns or throws.
  const [batchSettled, commandsSettled] = await Promise.allSettled([batchRun, commandsRun]);
  if (batchSettled.status === 'rejected') throw batchSettled.reason;
  const { result: batch, ms: batchMs } = batchSettled.value;

  const newline = batch.stdout.indexOf('\n');
  const answer = (newline < 0 ? batch.stdout : batch.stdout.slice(0, newline)).trim();
  if (!answer.startsWith('/')) throw releaseDirProblem(target, releaseDir, answer, batch);

  const found = sections(batch.stdout.slice(newline + 1), checks.length, marker);
  // The checks of one batch share its wall time; each is given an equal part of it.
  const share = checks.length > 0 ? batchMs / checks.length : 0;
  checks.forEach(({ gate, index }, position) => {
    results[index] = gateResult(gate, checkVerdict(gate, found[position], batch, options, { target, redactor }), share);
  });

  const run = commandsSettled.status === 'fulfilled' ? commandsSettled.value : undefined;
  const ran = run ? sections(run.stdout, commands.length, marker) : [];
  commands.forEach((command, position) => {
    const durationMs = commandTime(times, position, ran[position]?.hostMs);
    const started = times.begun[position] !== undefined;
    const context = { target, redactor, flooded: times.flooded };
    const verdict = commandVerdict(command, position, commandsSettled, ran, durationMs, started, context);
    results[command.index] = gateResult(command.gate, verdict, durationMs);
  });

  const { passed, failed, total } = tally(results);
  return { releaseDir: answer, results, passed, failed, total, roundTrips: roundTrips() };
}
