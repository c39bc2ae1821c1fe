import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: unknown;
  jobs: Record<string, { steps?: Step[] }>;
}
interface ActionYml {
  inputs: Record<string, { required?: boolean; default?: unknown }>;
}

const dir = join(repoRoot, '.github', 'workflows');
const files = readdirSync(dir).filter((file) => /\.ya?ml$/.test(file));

describe.each(files)('.github/workflows/%s', (file) => {
  const text = readFileSync(join(dir, file), 'utf8');

  it('is valid YAML with triggers and jobs', () => {
    const workflow = parse(text) as Workflow; // throws on a YAML error, with the line
    expect(workflow.on).toBeDefined();
    expect(Object.keys(workflow.jobs).length).toBeGreaterThan(0);
  });

  it('gives each deploy-gates action it uses only declared inputs, and every required one', () => {
    const workflow = parse(text) as Workflow;
    const problems: string[] = [];
    for (const [job, { steps = [] }] of Object.entries(workflow.jobs)) {
      for (const step of steps) {
        const local = /^\.\/actions\/([\w-]+)$/.exec(step.uses ?? '');
        if (!local) continue;
        const action = parse(readFileSync(join(repoRoot, 'actions', local[1]!, 'action.yml'), 'utf8')) as ActionYml;
        const given = Object.keys(step.with ?? {});
        for (const input of given) if (!(input in action.inputs)) problems.push(`${job}: ${local[1]} has no input "${input}"`);
        for (const [input, spec] of Object.entries(action.inputs)) {
          if (spec.required && spec.default === undefined && !given.includes(input)) problems.push(`${job}: ${local[1]} needs "${input}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
