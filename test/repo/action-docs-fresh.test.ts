import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';

describe('action-docs/', () => {
  it('matches what `npm run docs` generates from every action.yml', () => {
    const check = spawnSync(process.execPath, [join(repoRoot, 'scripts/docs.mjs'), '--check'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  }, 120_000);

  const actions = readdirSync(join(repoRoot, 'actions')).sort();
  // The owner the README writes in its `uses: <owner>/deploy-gates/actions/<name>@main` lines (package.json repository).
  const readmeOwners = new Set(
    [...readFileSync(join(repoRoot, 'README.md'), 'utf8').matchAll(/uses: (\S+)\/deploy-gates\/actions\//g)].map(
      (match) => match[1],
    ),
  );

  it.each(actions)('%s.md shows the uses: line users write, with the owner the README uses', (name) => {
    const doc = readFileSync(join(repoRoot, 'action-docs', `${name}.md`), 'utf8');
    expect(doc).not.toContain('***');
    expect([...readmeOwners]).toHaveLength(1);
    expect([...readmeOwners]).toEqual(['deploy-gates']);
    expect(doc).toContain(`\n- uses: ${[...readmeOwners][0]}/deploy-gates/actions/${name}@main\n`);
  });

  it.each(actions)('%s.md shows no default for an input that has none', (name) => {
    const doc = readFileSync(join(repoRoot, 'action-docs', `${name}.md`), 'utf8');
    const inputs = (
      parse(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8')) as {
        inputs: Record<string, { default?: unknown }>;
      }
    ).inputs;
    const withoutDefault = Object.keys(inputs).filter((input) => inputs[input]!.default === undefined);
    // An action may have no input without a default (branch-protection-audit); those it has are shown as required.
    for (const input of withoutDefault) {
      expect(doc).toMatch(new RegExp(`^\\| \`${input}\` \\|.*\\| \`true\` \\|  \\|$`, 'm'));
      const usage = doc.slice(doc.indexOf(`\n    ${input}:\n`) + 1).split('\n\n')[0]!;
      expect(usage).toContain('# Required: true');
      expect(usage).not.toContain('# Default:');
    }
  });
});
