import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { inputDefault } from '#action-kit/inputs.js';
import { sshInputs, TARGET_INPUT_DESCRIPTIONS, targetInputs } from '#action-kit/target.js';
import { repoRoot } from '../support/paths.js';

interface ActionYml {
  inputs: Record<string, { default?: string; required?: boolean; description?: string }>;
  outputs: Record<string, unknown>;
  runs: { using: string; main: string; pre?: string; post?: string };
}

const actions = readdirSync(join(repoRoot, 'actions')).filter((name) =>
  existsSync(join(repoRoot, 'actions', name, 'action.yml')),
);

/** Each action exports its input shape from src/inputs.ts as `<camelName>Inputs`. */
async function inputShape(name: string): Promise<Record<string, z.ZodType>> {
  const module = (await import(join(repoRoot, 'actions', name, 'src', 'inputs.ts'))) as Record<string, unknown>;
  const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return module[`${camel}Inputs`] as Record<string, z.ZodType>;
}

describe.each(actions)('actions/%s/action.yml', (name) => {
  const yml = parse(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8')) as ActionYml;

  it('runs on node24 from committed bundles in dist/', () => {
    expect(yml.runs.using).toBe('node24');
    for (const script of [yml.runs.main, yml.runs.pre, yml.runs.post].filter(Boolean) as string[]) {
      const path = resolve(repoRoot, 'actions', name, script);
      expect(path.startsWith(join(repoRoot, 'dist', name))).toBe(true);
      expect(existsSync(path)).toBe(true);
    }
  });

  it('declares the same inputs and defaults as the action reads', async () => {
    const shape = await inputShape(name);
    expect(Object.keys(shape).sort()).toEqual(Object.keys(yml.inputs).sort());
    for (const [input, spec] of Object.entries(yml.inputs)) {
      const declared =
        spec.default === undefined || spec.default === '' || String(spec.default).includes('${{')
          ? undefined
          : String(spec.default);
      expect({ input, default: inputDefault(shape[input]!) }).toEqual({ input, default: declared });
    }
  });

  // The target has one owner: action-kit declares its inputs once, and every action.yml says the same about them.
  it('declares the target inputs as action-kit does: its schemas, its one description', async () => {
    const shape = await inputShape(name);
    const owned = { ...sshInputs, ...targetInputs } as Record<string, unknown>;
    for (const [input, description] of Object.entries(TARGET_INPUT_DESCRIPTIONS)) {
      if (!(input in yml.inputs)) continue;
      expect({ input, description: yml.inputs[input]!.description }).toEqual({ input, description });
      expect({ input, ownedByActionKit: shape[input] === owned[input] }).toEqual({ input, ownedByActionKit: true });
    }
  });

  // Runner facts come from the envelope (context.github, context.tempDir, context.env), read once, masked once.
  it('reads no process.env in src/main.ts', () => {
    const main = readFileSync(join(repoRoot, 'actions', name, 'src', 'main.ts'), 'utf8');
    expect(main).not.toMatch(/process\.env/);
  });

  it('names inputs and outputs in kebab-case', () => {
    for (const key of [...Object.keys(yml.inputs), ...Object.keys(yml.outputs ?? {})])
      expect(key).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });
});

describe('test runtime', () => {
  it('is the Node 24 the actions run on (npm scripts put node_modules/.bin/node first)', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
  });
});
