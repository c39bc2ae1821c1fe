export interface CliArgs {
  action?: string;
  inputs: Map<string, string>;
  debug: boolean;
  help: boolean;
}

/**
 * `deploy-gates <action> --<input> <value> …`; `--<input>=<value>` works too, and an input given twice
 * becomes two lines (`--urls a --urls b`), the way multi-line inputs are written in a workflow.
 */
export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { inputs: new Map(), debug: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
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
        value = next;
        i++;
      }
      const previous = args.inputs.get(name);
      args.inputs.set(name, previous === undefined ? value : `${previous}\n${value}`);
    } else if (args.action === undefined) args.action = arg;
    else throw new Error(`unexpected argument "${arg}"; inputs are given as --<input> <value>`);
  }
  return args;
}
