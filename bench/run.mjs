#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.ts (or only those named on the command line) one after another
// on Node 24 through tsx; each prints its own figures and a ratio against its reference.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = process.argv.slice(2);
const node =
  Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : join(root, 'node_modules/node/bin/node');
const benches = readdirSync(join(root, 'bench'))
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => wanted.length === 0 || wanted.some((name) => file.startsWith(name)))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(node, ['--import', 'tsx', join(root, 'bench', file)], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
