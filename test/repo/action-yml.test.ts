import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';
import { actionParserFindings } from '../support/workflow-lint.js';

// The runner loads an action.yml with GitHub's action parser and refuses the whole action on any error: an
// expression in a description (`${{ needs.deploy.result }}`) is evaluated there, and `needs` is not a context an
// action.yml may name ("Unrecognized named-value: 'needs'"), so the step using it never starts.
const actions = readdirSync(join(repoRoot, 'actions')).filter((name) =>
  existsSync(join(repoRoot, 'actions', name, 'action.yml')),
);

describe.each(actions)('actions/%s/action.yml', (name) => {
  const file = join('actions', name, 'action.yml');
  const text = readFileSync(join(repoRoot, file), 'utf8');

  it("is accepted by GitHub's action parser (@actions/workflow-parser parseAction) with no error", () => {
    expect(actionParserFindings(file, text)).toEqual([]);
  });

  it('has no expression in any description', () => {
    const yml = parse(text) as {
      description?: string;
      inputs?: Record<string, { description?: string }>;
      outputs?: Record<string, { description?: string }>;
    };
    const descriptions = [
      ['(action)', yml.description ?? ''],
      ...Object.entries(yml.inputs ?? {}).map(([key, spec]) => [`input ${key}`, spec.description ?? '']),
      ...Object.entries(yml.outputs ?? {}).map(([key, spec]) => [`output ${key}`, spec.description ?? '']),
    ];
    expect(descriptions.filter(([, description]) => description!.includes('${{')).map(([where]) => where)).toEqual([]);
  });
});

describe('the action parser check itself', () => {
  it('reports the expression GitHub refused in a description', () => {
    const broken = [
      'name: x',
      'description: x',
      'inputs:',
      '  jobs:',
      "    description: 'one per line (`deploy=${{ needs.deploy.result }}`)'",
      'runs:',
      '  using: node24',
      '  main: index.js',
    ].join('\n');
    expect(actionParserFindings('broken/action.yml', broken).join('\n')).toMatch(/needs/);
  });
});
