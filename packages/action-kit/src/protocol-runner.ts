/**
 * The runner protocol — inputs, log lines, annotations, groups, masking, outputs, state, job summary — built
 * from @actions/core's own protocol modules, with the same names and behaviour as @actions/core's functions.
 * It is what the committed bundles use when the runner starts them (see ./entry.ts); code loaded any other way
 * (@github/local-action, tests) gets @actions/core's public API instead (./runner.ts).
 *
 * Why not @actions/core's index in the bundles: it eagerly loads @actions/http-client (undici, whose WebAssembly
 * HTTP parser compiles at load) and @actions/exec for OIDC tokens and platform details that no deploy-gates action
 * uses: +58 ms on every step's start, over the 60 ms budget (README, Benchmarks). The modules below are the ones
 * its index builds these functions from, imported by path because the package's `exports` map only offers the
 * index; @actions/core is pinned to an exact version for that reason, and a test checks that each function here
 * writes exactly what @actions/core's function of that name writes.
 *
 * Its file-command module is the one exception, restated below: it loads `node:crypto` at import for the heredoc
 * delimiter of outputs and state (~5 ms of every start); here the delimiter's UUID is drawn from the same kernel
 * source without loading node:crypto (see core's random.ts).
 */
import { appendFileSync, existsSync } from 'node:fs';
import { EOL } from 'node:os';
import { issueCommand } from '../../../node_modules/@actions/core/lib/command.js';
import { noLegacyCommand } from '#core/text.js';
import { toCommandProperties, toCommandValue } from '../../../node_modules/@actions/core/lib/utils.js';
import { summary } from '../../../node_modules/@actions/core/lib/summary.js';
import type { AnnotationProperties } from '../../../node_modules/@actions/core/lib/core.js';
import { randomUuid } from '#core/random.js';
import type { Runner } from './runner.js';

function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** @actions/core's issueFileCommand: one message appended to the file GITHUB_<command> names. */
function issueFileCommand(command: string, message: string): void {
  const filePath = process.env[`GITHUB_${command}`];
  if (!filePath) throw new Error(`Unable to find environment variable for file command ${command}`);
  if (!existsSync(filePath)) throw new Error(`Missing file at path: ${filePath}`);
  appendFileSync(filePath, `${toCommandValue(message)}${EOL}`, { encoding: 'utf8' });
}

/** @actions/core's prepareKeyValueMessage: `key<<delimiter`, value, delimiter, with a random delimiter. */
function prepareKeyValueMessage(key: string, value: unknown): string {
  const delimiter = `ghadelimiter_${randomUuid()}`;
  const convertedValue = toCommandValue(value);
  // A key or value holding the delimiter could end the heredoc early and write a second output.
  if (key.includes(delimiter))
    throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter}"`);
  if (convertedValue.includes(delimiter))
    throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter}"`);
  return `${key}<<${delimiter}${EOL}${convertedValue}${EOL}${delimiter}`;
}

function error(message: string, properties: AnnotationProperties = {}): void {
  issueCommand('error', toCommandProperties(properties), noLegacyCommand(message));
}

export const protocolRunner: Runner = {
  getInput,
  getMultilineInput: (name) =>
    getInput(name)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.trim()),
  setSecret: (secret) => issueCommand('add-mask', {}, secret),
  setOutput(name, value) {
    if (process.env.GITHUB_OUTPUT) return issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value));
    process.stdout.write(EOL);
    issueCommand('set-output', { name }, toCommandValue(value));
  },
  info: (message) => void process.stdout.write(message + EOL),
  debug: (message) => issueCommand('debug', {}, noLegacyCommand(message)),
  warning: (message, properties = {}) =>
    issueCommand('warning', toCommandProperties(properties), noLegacyCommand(message)),
  error,
  setFailed(message) {
    process.exitCode = 1;
    error(message);
  },
  startGroup: (name) => issueCommand('group', {}, noLegacyCommand(name)),
  endGroup: () => issueCommand('endgroup', {}, ''),
  saveState(name, value) {
    if (process.env.GITHUB_STATE) return issueFileCommand('STATE', prepareKeyValueMessage(name, value));
    issueCommand('save-state', { name }, toCommandValue(value));
  },
  getState: (name) => process.env[`STATE_${name}`] || '',
  summary,
};
