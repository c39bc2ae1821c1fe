#!/usr/bin/env node
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { actionNames, readAction } from './metadata.js';
import { parseArgs } from './args.js';
import { runAction } from './runner.js';

// The bundle lives in dist/cli/, so the repository (actions/, dist/) is two levels up.
// (A path, not `new URL('../..', import.meta.url)`: ncc would take that for an asset to copy.)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function usage(): string {
  return [
    'Usage: deploy-gates <action> [--<input> <value>]... [--debug]',
    '',
    'Runs a bundled action on this machine the way the GitHub runner does (INPUT_* variables,',
    'GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) and prints its log, outputs and job summary.',
    'An input given twice becomes two lines. --debug shows debug lines (RUNNER_DEBUG=1).',
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
    console.error(`deploy-gates: unknown action "${args.action}". Valid actions: ${names.join(', ')}`);
    return 2;
  }
  const action = readAction(root, args.action);
  const valid = Object.keys(action.inputs);
  if (args.help) {
    console.log(`deploy-gates ${action.name}\n\nInputs:`);
    for (const [name, input] of Object.entries(action.inputs)) {
      const note = input.required ? ' (required)' : input.default ? ` (default: ${input.default})` : '';
      console.log(`  --${name}${note}\n      ${String(input.description ?? '').trim()}`);
    }
    return 0;
  }
  const unknown = [...args.inputs.keys()].filter((name) => !valid.includes(name));
  if (unknown.length > 0) {
    console.error(
      `deploy-gates: ${action.name} has no input ${unknown.map((name) => `--${name}`).join(', ')}. Valid inputs: ${valid.map((name) => `--${name}`).join(', ')}`,
    );
    return 2;
  }

  const result = await runAction(root, action, args.inputs, args.debug, (line) => console.log(line));
  console.log('\nOutputs:');
  if (result.outputs.size === 0) console.log('  (none)');
  for (const [name, value] of result.outputs) console.log(`  ${name}=${value.includes('\n') ? `\n    ${value.split('\n').join('\n    ')}` : value}`);
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
