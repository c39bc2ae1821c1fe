/**
 * The runner protocol — inputs, log lines, annotations, masking, outputs, job summary — built from
 * @actions/core's own protocol modules, with the same names and behaviour as @actions/core's functions.
 *
 * Why not `import * as core from '@actions/core'`: its index eagerly loads @actions/http-client (undici,
 * whose WebAssembly HTTP parser compiles at load) and @actions/exec for OIDC tokens and platform details that
 * no deploy-gates action uses. That alone cost +58 ms on every step's start, over the 60 ms budget
 * (README, Benchmarks). The modules below are the ones its index builds these functions from; they are
 * imported by path because the package's `exports` map only offers the index. A test checks that each
 * function here writes exactly what @actions/core writes.
 */
import { EOL } from 'node:os';
import { issueCommand } from '../../../node_modules/@actions/core/lib/command.js';
import { issueFileCommand, prepareKeyValueMessage } from '../../../node_modules/@actions/core/lib/file-command.js';
import { toCommandProperties, toCommandValue } from '../../../node_modules/@actions/core/lib/utils.js';
import type { AnnotationProperties } from '../../../node_modules/@actions/core/lib/core.js';

export { summary } from '../../../node_modules/@actions/core/lib/summary.js';

export const ExitCode = { Success: 0, Failure: 1 } as const;

export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

export function getMultilineInput(name: string): string[] {
  return getInput(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.trim());
}

export function setSecret(secret: string): void {
  issueCommand('add-mask', {}, secret);
}

export function setOutput(name: string, value: string): void {
  if (process.env.GITHUB_OUTPUT) {
    issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value));
    return;
  }
  process.stdout.write(EOL);
  issueCommand('set-output', { name }, toCommandValue(value));
}

export function info(message: string): void {
  process.stdout.write(message + EOL);
}

export function debug(message: string): void {
  issueCommand('debug', {}, message);
}

export function warning(message: string, properties: AnnotationProperties = {}): void {
  issueCommand('warning', toCommandProperties(properties), message);
}

export function error(message: string, properties: AnnotationProperties = {}): void {
  issueCommand('error', toCommandProperties(properties), message);
}

export function setFailed(message: string): void {
  process.exitCode = ExitCode.Failure;
  error(message);
}
