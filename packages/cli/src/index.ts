#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { actionNames, readAction } from './metadata.js';
import { closest, parseArgs, readInputFiles, unknownInputMessage } from './args.js';
import { actionHelp } from './help.js';
import { runAction, runnerTempFor } from './runner.js';

// The bundle lives in dist/cli/, so the repository (actions/, dist/) is two levels up.
// (A path, not `new URL('../..', import.meta.url)`: ncc would take that for an asset to copy.)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function usage(): string {
  return [
    'Usage: deploy-gates <action> [--<input> <value>]... [--out DIR] [--debug] [-- <command> [args]...]',
    '',
    'Runs a bundled action on this machine the way the GitHub runner does (INPUT_* variables,',
    'GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) and prints its log, outputs and job summary.',
    'An input given twice becomes two lines. --debug shows debug lines (RUNNER_DEBUG=1).',
    'A value starting with "--" (a private key) is written --<input>=VALUE; --<input>-file PATH reads any input',
    '(a secret: --ssh-key-file ~/.ssh/deploy) from a file. No error message repeats a value.',
    'Each run writes its reports to a fresh directory (RUNNER_TEMP, printed); --out DIR puts them in DIR.',
    "-- <command> runs a command after the action's main step and before its post step (egress-sentinel watches it).",
    'deploy-gates <action> --help lists the inputs of an action, with an example.',
    '',
    `Actions: ${actionNames(root).join(', ')}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const names = actionNames(root);
  if (args.help && !args.action) {
    console.log(usage());
    return 0;
  }
  if (!args.action) {
    console.error(`deploy-gates: name an action.\n\n${usage()}`);
    return 2;
  }
  if (!names.includes(args.action)) {
    const guess = closest(args.action, names);
    console.error(
      `deploy-gates: unknown action "${args.action}". Valid actions: ${names.join(', ')}${guess ? `. Did you mean ${guess}?` : ''}`,
    );
    return 2;
  }
  const action = readAction(root, args.action);
  const valid = Object.keys(action.inputs);
  if (args.help) {
    console.log(actionHelp(action));
    return 0;
  }
  const inputs = readInputFiles(args.inputs, valid, (path) => readFileSync(path, 'utf8'));
  const unknown = [...inputs.keys()].filter((name) => !valid.includes(name));
  if (unknown.length > 0) {
    console.error(`deploy-gates: ${unknownInputMessage(action.name, unknown, valid)}`);
    return 2;
  }

  const runnerTemp = await runnerTempFor(action.name, args.out);
  console.log(`Reports go to ${runnerTemp} (RUNNER_TEMP of this run)`);
  const result = await runAction(root, action, inputs, args.debug, (line) => console.log(line), {
    runnerTemp,
    command: args.command,
  });
  console.log('\nOutputs:');
  if (result.outputs.size === 0) console.log('  (none)');
  for (const [name, value] of result.outputs)
    console.log(`  ${name}=${value.includes('\n') ? `\n    ${value.split('\n').join('\n    ')}` : value}`);
  if (result.summary.trim() !== '') console.log(`\nJob summary:\n${result.summary.trimEnd()}`);
  console.log(`\n${action.name} ${result.exitCode === 0 ? 'succeeded' : `failed (exit code ${result.exitCode})`}`);
  return result.exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`deploy-gates: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
