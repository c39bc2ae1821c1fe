import { randomBytes } from 'node:crypto';
import { nulFields, shellQuote } from '../hosts/target.js';

/** Script pieces shared by the locked switch (switch.ts) and the one-script switch (fast.ts). */

export interface SwapPrecondition {
  /** Shell lines that exit non-zero unless this run still holds the lock (HeldLock.guard). */
  guard?: string;
  /** What `readlink current` must print (empty: no current) for the swap to happen; exit 7 otherwise. */
  expectLink?: string;
}

/** Points `current` at releases/<name>: a new relative symlink under a temporary name, renamed over `current`. */
export function swapScript(root: string, name: string, { guard, expectLink }: SwapPrecondition): string {
  const temp = `.current.${randomBytes(6).toString('hex')}.tmp`;
  return [
    `cd -- ${shellQuote(root)} || exit 3`,
    ...(guard ? [guard] : []),
    ...(expectLink === undefined
      ? []
      : [
          `l=$(readlink current 2>/dev/null); [ "$l" = ${shellQuote(expectLink)} ] || { echo "current points to \${l:-nothing}, not ${expectLink.replace(/["$`\\]/g, '')}: changed by someone else" >&2; exit 7; }`,
        ]),
    `ln -s -- ${shellQuote(`releases/${name}`)} ${temp} || exit 4`,
    `mv -T -- ${temp} current || { rm -f -- ${temp}; exit 5; }`,
  ].join('\n');
}

/** One step of a script: shell lines run in a subshell, stdout discarded. */
export interface Step {
  name: string;
  lines: string;
  /** Its failure does not stop the steps after it. */
  optional?: boolean;
}

/**
 * Runs steps in order, stopping after the first failing one that is not optional (`exit 0` of the script or subshell
 * they run in); prints `name\0exit\0stderr\0` each. A step sees the exit of the one before it in `$dg_c`.
 */
export function stepsScript(steps: readonly Step[]): string {
  return steps
    .map(({ name, lines, optional }) =>
      [
        // The command substitution is the step's subshell (no second fork): `exit` and `cd` stay inside it.
        `dg_e=$( {\n${lines}\n} 2>&1 >/dev/null ); dg_c=$?`,
        `printf '%s\\0%s\\0%s\\0' ${name} "$dg_c" "$dg_e"`,
        ...(optional ? [] : ['[ "$dg_c" = 0 ] || exit 0']),
      ].join('\n'),
    )
    .join('\n');
}

export type StepResults = Map<string, { exitCode: number; stderr: string }>;

export function parseSteps(stdout: string): StepResults {
  const fields = nulFields(stdout);
  const steps: StepResults = new Map();
  for (let i = 0; i + 2 < fields.length + 1; i += 3)
    steps.set(fields[i]!, { exitCode: Number(fields[i + 1] ?? 1), stderr: (fields[i + 2] ?? '').trim() });
  return steps;
}

/** A step's result when it failed or did not run (undefined when it passed). */
export function stepFailure(done: StepResults, name: string): { exitCode: number; stderr: string } | undefined {
  const result = done.get(name);
  return result === undefined || result.exitCode !== 0 ? (result ?? { exitCode: -1, stderr: 'no answer' }) : undefined;
}

/** Shell lines removing releases (in releases-root), never the one `current` points to at that moment. */
export function pruneLines(doomed: readonly string[]): string {
  return [
    'cur=$(readlink current 2>/dev/null)',
    `for d in ${doomed.map(shellQuote).join(' ')}; do [ "$cur" = "releases/$d" ] || rm -rf -- "releases/$d" || exit 1; done`,
  ].join('\n');
}
