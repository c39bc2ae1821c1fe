import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { satisfies } from 'semver';

// A fresh `npm ci` (and every `npx deploy-gates`) should be quiet on the Node a machine already has: npm runs on
// that Node, while the actions and the npm scripts run on Node 24 from the `node` package.
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  engines?: { node?: string };
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<
    string,
    { version?: string; engines?: { node?: string }; hasInstallScript?: boolean; dev?: boolean }
  >;
};
const packages = Object.entries(lock.packages).filter(([path]) => path !== '');
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('a fresh install', () => {
  it('does not ask for Node 24 itself (npm would warn EBADENGINE, twice per npx deploy-gates, on Node 20 or 22)', () => {
    const range = pkg.engines?.node ?? '>=0';
    expect(range).toMatch(/^>=\s*\d+(\.\d+)*$/);
    expect(Number(/\d+/.exec(range)![0])).toBeLessThanOrEqual(20);
    // Node 24 is what the `node` package installs; the CLI starts the actions with it.
    expect(lock.packages['node_modules/node']?.version).toMatch(/^24\./);
  });

  it('installs no package that asks for a newer Node than 20 (package.json "overrides" pins the Azure SDK behind @actions/artifact and content-type to such versions)', () => {
    const tooNew = packages
      .filter(([, entry]) => entry.engines?.node && !satisfies('20.19.0', entry.engines.node))
      .map(([path, entry]) => `${nameOf(path)}@${entry.version} (${entry.engines!.node})`);
    expect(tooNew).toEqual([]);
  });

  it('lists every package with an install script in allowScripts, so npm names none as unreviewed', () => {
    const withScripts = [
      ...new Set(packages.filter(([, entry]) => entry.hasInstallScript).map(([path]) => nameOf(path))),
    ].sort();
    expect(withScripts).toContain('node'); // its preinstall is what installs Node 24
    const allowed = pkg.allowScripts ?? {};
    const unreviewed = withScripts.filter(
      (name) => !Object.keys(allowed).some((key) => key === name || key.startsWith(`${name}@`)),
    );
    expect(unreviewed).toEqual([]);
  });
});
