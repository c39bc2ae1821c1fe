#!/usr/bin/env node
// Generates action-docs/<name>.md from each actions/<name>/action.yml with the action-docs package.
// `--check` writes nothing and exits 1 when a committed file differs from what would be generated.
//
// Two things action-docs cannot be told, done here on its output:
// - its usage block reads `- uses: ***PROJECT***@***VERSION***` (it fills those in only inside a README it
//   updates); here it is the line users write, `<owner>/deploy-gates/actions/<name>@main`, with the owner from
//   package.json `repository` (github.com/<owner>/…), else `<owner>`, as the README writes it;
// - it shows `""` as the default of an input that has none (a required input); here such an input has no default.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const bin = join(root, 'node_modules', '.bin', 'action-docs');
// There is no release tag yet: `main` resolves (README: pin a full commit SHA of it, `@<40 hex> # main`).
const majorTag = 'main';
let stale = 0;

/** The GitHub owner from package.json `repository` (a URL, `github:owner/repo` or `owner/repo`), else `<owner>`. */
export function repositoryOwner(pkg) {
  const repository = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const match =
    repository &&
    (/github\.com[/:]([\w.-]+)\//.exec(repository) ?? /^(?:github:)?([\w.-]+)\/[\w.-]+$/.exec(repository));
  return match ? match[1] : '<owner>';
}

/** action-docs' markdown with the real `uses:` line and no default for inputs that have none. */
export function finishDocs(markdown, name, inputs, owner, version) {
  const withoutDefault = new Set(
    Object.entries(inputs ?? {})
      .filter(([, spec]) => spec?.default === undefined)
      .map(([input]) => input),
  );
  let input;
  const lines = [];
  for (const line of markdown.split('\n')) {
    const row = /^\| `([\w-]+)` \|(.*)\| `""` \|$/.exec(line);
    if (row && withoutDefault.has(row[1])) {
      lines.push(`| \`${row[1]}\` |${row[2]}|  |`);
      continue;
    }
    const usageInput = /^ {4}([\w-]+):$/.exec(line);
    if (usageInput) input = usageInput[1];
    if (line === '    # Default: ""' && withoutDefault.has(input)) continue;
    lines.push(line.replace('***PROJECT***@***VERSION***', `${owner}/deploy-gates/actions/${name}@${version}`));
  }
  return lines.join('\n');
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const owner = repositoryOwner(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')));
  mkdirSync(join(root, 'action-docs'), { recursive: true });
  for (const name of readdirSync(join(root, 'actions')).sort()) {
    const source = join('actions', name, 'action.yml');
    if (!existsSync(join(root, source))) continue;
    const generated = execFileSync(bin, ['--no-banner', '--include-name-header', '--source', source], {
      cwd: root,
      encoding: 'utf8',
    });
    const inputs = parse(readFileSync(join(root, source), 'utf8')).inputs;
    const markdown = finishDocs(generated.trim(), name, inputs, owner, majorTag);
    const target = join(root, 'action-docs', `${name}.md`);
    const header = `<!-- Generated from ${source} by \`npm run docs\` (action-docs); do not edit. -->\n\n`;
    const content = `${header}${markdown}\n`;
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
}
