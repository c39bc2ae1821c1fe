import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { repoRoot } from '../support/paths.js';

// The guardrails `npm run lint` holds the code to, tried on the real files with one line added, so a change to the
// ESLint config (or a plugin update) that silently stops a rule from firing fails here rather than letting a circle
// of imports or a boundary crossing in unnoticed.
const eslint = new ESLint({ cwd: repoRoot });

async function rulesFired(file: string, extra: string): Promise<string[]> {
  const path = join(repoRoot, file);
  const [result] = await eslint.lintText(`${readFileSync(path, 'utf8')}\n${extra}\n`, { filePath: path });
  return result!.messages.map((message) => message.ruleId ?? message.message);
}

describe('lint guardrails', () => {
  test('a file as it is in the tree passes', async () => {
    expect(await rulesFired('packages/core/src/egress/privilege.ts', '')).toEqual([]);
  });

  // nft.ts imports privilege.ts; services.ts reaches services-yaml.ts only by a lazy import().
  test.each([
    ['packages/core/src/egress/privilege.ts', "import { TABLE_REF } from './nft.js';\nexport const table = TABLE_REF;"],
    ['packages/core/src/rollout/services-yaml.ts', "export { parseServices } from './services.js';"],
  ])(
    'an import that closes a circle of files is an error, a lazy one too: %s',
    async (file, line) => {
      expect(await rulesFired(file, line)).toContain('import-x/no-cycle');
    },
    60_000,
  );

  test.each([
    ["export { defineAction } from '#action-kit/define.js';"],
    ["export { main } from '../../../cli/src/main.js';"],
    ["export { getInput } from '@actions/core';"],
  ])(
    'core importing the envelope, the CLI or @actions/core is an error: %s',
    async (line) => {
      expect(await rulesFired('packages/core/src/egress/privilege.ts', line)).toContain('no-restricted-imports');
    },
    60_000,
  );

  test('an action importing a domain module past its index is an error', async () => {
    const line = "export { runCommand } from '#core/egress/privilege.js';";
    expect(await rulesFired('actions/egress-sentinel/src/main.ts', line)).toContain('no-restricted-imports');
  }, 60_000);
});
