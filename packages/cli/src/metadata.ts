import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface ActionInput {
  description?: string;
  required?: boolean;
  default?: string;
}

export interface ActionMetadata {
  name: string;
  dir: string;
  description?: string;
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description?: string }>;
  runs: { using: string; main: string; pre?: string; post?: string };
}

export function actionNames(root: string): string[] {
  const dir = join(root, 'actions');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'action.yml')))
    .sort();
}

export function readAction(root: string, name: string): ActionMetadata {
  const dir = join(root, 'actions', name);
  const doc = parse(readFileSync(join(dir, 'action.yml'), 'utf8')) as Omit<ActionMetadata, 'name' | 'dir'>;
  return {
    name,
    dir,
    description: doc.description,
    inputs: doc.inputs ?? {},
    outputs: doc.outputs ?? {},
    runs: doc.runs,
  };
}

/** The runner's INPUT_ variable for an input: upper case, spaces as underscores (hyphens stay). */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * Evaluates the only expressions action.yml defaults use, `${{ github.<x> }}`, from the
 * environment the runner would derive them from (`github.token` → GITHUB_TOKEN, `github.sha` → GITHUB_SHA).
 */
export function evaluateDefault(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(
    /\$\{\{\s*github\.([a-z_]+)\s*\}\}/gi,
    (_, key: string) => env[`GITHUB_${key.toUpperCase()}`] ?? '',
  );
}
