#!/usr/bin/env node
// Generates action-docs/<name>.md from each actions/<name>/action.yml with the action-docs package.
// `--check` writes nothing and exits 1 when a committed file differs from what would be generated.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const bin = join(root, 'node_modules', '.bin', 'action-docs');
let stale = 0;

mkdirSync(join(root, 'action-docs'), { recursive: true });
for (const name of readdirSync(join(root, 'actions')).sort()) {
  const source = join('actions', name, 'action.yml');
  if (!existsSync(join(root, source))) continue;
  const markdown = execFileSync(bin, ['--no-banner', '--include-name-header', '--source', source], { cwd: root, encoding: 'utf8' });
  const target = join(root, 'action-docs', `${name}.md`);
  const header = `<!-- Generated from ${source} by \`npm run docs\` (action-docs); do not edit. -->\n\n`;
  const content = `${header}${markdown.trim()}\n`;
  if (check) {
    if (!existsSync(target) || readFileSync(target, 'utf8') !== content) {
      console.error(`action-docs/${name}.md is stale: run \`npm run docs\` and commit it`);
      stale++;
    }
  } else {
    writeFileSync(target, content);
    console.log(`action-docs/${name}.md`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
