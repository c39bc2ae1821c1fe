export interface CliArgs {
  action?: string;
  inputs: Map<string, string>;
  debug: boolean;
  help: boolean;
  /** `--out DIR`: the RUNNER_TEMP of the run (where reports go), instead of a fresh directory. */
  out?: string;
  /** `-- <command> [args…]`: run between the action's main and post steps, as the job's later steps. */
  command?: string[];
}

/**
 * `deploy-gates <action> --<input> <value> …`; `--<input>=<value>` works too, and an input given twice
 * becomes two lines (`--urls a --urls b`), the way multi-line inputs are written in a workflow.
 * A value that starts with `--` must be written `--<input>=<value>`: `--urls --attempts 3` is a missing value.
 * No message repeats an argument's value: any of them may be a secret.
 */
export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { inputs: new Map(), debug: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.command = argv.slice(i + 1);
      if (args.command.length === 0)
        throw new Error('-- needs a command after it (deploy-gates <action> … -- <command> [args…])');
      break;
    }
    if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg === '--debug') args.debug = true;
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq > 0 ? eq : undefined);
      let value: string;
      if (eq > 0) value = arg.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new Error(`--${name} needs a value`);
        // The value is never repeated in a message: it may be a secret (a private key starts with "-----").
        if (next.startsWith('--'))
          throw new Error(
            `--${name} needs a value, but the next argument starts with "--"; if that is the value (a private key starts with "-----"), write --${name}=VALUE or --${name}-file PATH`,
          );
        value = next;
        i++;
      }
      if (name === 'out') {
        if (value === '') throw new Error('--out needs a directory');
        args.out = value;
        continue;
      }
      const previous = args.inputs.get(name);
      args.inputs.set(name, previous === undefined ? value : `${previous}\n${value}`);
    } else if (args.action === undefined) args.action = arg;
    else
      throw new Error(
        `unexpected argument at position ${i + 1} (not shown: it may be a secret); inputs are given as --<input> <value>`,
      );
  }
  return args;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short names. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The valid name closest to a mistyped one (a typo, a missing or extra letter, or a prefix), if any is close. */
export function closest(name: string, valid: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  let best: { name: string; score: number } | undefined;
  for (const candidate of valid) {
    const score =
      candidate.startsWith(name) || name.startsWith(candidate)
        ? Math.min(1, distance(name, candidate))
        : distance(name, candidate);
    if (score <= limit && (best === undefined || score < best.score)) best = { name: candidate, score };
  }
  return best?.name;
}

/** `health-retry has no input --url. Valid inputs: --urls, …. Did you mean --urls?` */
export function unknownInputMessage(action: string, unknown: readonly string[], valid: readonly string[]): string {
  const guesses = unknown.flatMap((name) => {
    const guess = closest(name, valid);
    return guess ? [unknown.length === 1 ? `--${guess}` : `--${guess} for --${name}`] : [];
  });
  return (
    `${action} has no input ${unknown.map((name) => `--${name}`).join(', ')}. Valid inputs: ${valid.map((name) => `--${name}`).join(', ')}` +
    (guesses.length > 0 ? `. Did you mean ${guesses.join(', ')}?` : '')
  );
}

/**
 * `--<input>-file PATH` for an input the action has (and no input of that name): the input's value is the file's
 * text, without one trailing newline — how a secret (an SSH key, a token) is passed without appearing in the
 * process list or the shell history. Giving both `--<input>` and `--<input>-file` is refused.
 */
export function readInputFiles(
  inputs: Map<string, string>,
  valid: readonly string[],
  read: (path: string) => string,
): Map<string, string> {
  const out = new Map(inputs);
  for (const [name, path] of inputs) {
    const input = name.slice(0, -'-file'.length);
    if (!name.endsWith('-file') || valid.includes(name) || !valid.includes(input)) continue;
    if (inputs.has(input)) throw new Error(`--${input} and --${name} are both given; pass one`);
    let text: string;
    try {
      text = read(path);
    } catch (error) {
      throw new Error(`--${name} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    out.delete(name);
    out.set(input, text.replace(/\r?\n$/, ''));
  }
  return out;
}
