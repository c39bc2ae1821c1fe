import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionNames } from '#cli/metadata.js';
import { distFile, node24, repoRoot } from '../support/paths.js';

/**
 * Node builtins that cost a bundle's start several milliseconds each (node:crypto about 7, node:zlib 4,
 * node:child_process 3) are loaded when a step first uses them (scripts/build.mjs `lazyBuiltins`), not with the
 * bundle: a step that stops at an input error — the first line a user with a wrong input waits for — loads none.
 * A plain `import` that a module uses at load (a constant built from a builtin) would undo this for every step.
 */
const DEFERRED = ['child_process', 'crypto', 'zlib', 'sqlite', 'v8', 'vm', 'dgram', 'http', 'https', 'tls', 'http2'];

describe('committed bundles load heavy builtins on first use', () => {
  const dir = mkdtempSync(join(tmpdir(), `lazy-builtins-${process.pid}-`));
  const hook = join(dir, 'loaded.cjs');
  // Prints, as the process exits, the builtins loaded since the hook ran (bare Node's own are loaded before it).
  writeFileSync(
    hook,
    `const before = new Set(process.moduleLoadList);
process.on('exit', () => {
  const loaded = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13));
  require('node:fs').writeSync(2, '\\nloaded-builtins:' + JSON.stringify(loaded) + '\\n');
});
`,
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // egress-sentinel's entry starts its monitor before the inputs are read (its overhead target, README): without
  // inputs it has no allow-list, so it starts nothing and loads none of them either.
  it.each(actionNames(repoRoot))('%s stopped at an input error loads none of them', (action) => {
    const run = spawnSync(node24, ['--require', hook, distFile(action)], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, RUNNER_TEMP: dir },
    });
    expect(run.stdout).toMatch(/^::error::(Invalid inputs|Input ")/m);
    const loaded = JSON.parse(/^loaded-builtins:(.*)$/m.exec(run.stderr)?.[1] ?? 'null') as string[];
    expect(loaded).toContain('fs/promises'); // the hook saw the bundle's own loads
    expect(loaded.filter((name) => DEFERRED.includes(name))).toEqual([]);
  });
});
