import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const section = (title: string) => {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
};
/** Lines of fenced code blocks (what a reader copies and runs). */
const codeLines = (text: string) =>
  text
    .split(/^```/m)
    .filter((_, index) => index % 2 === 1)
    .flatMap((block) => block.split('\n'));

describe('README: Set up deploy-gates in your repository', () => {
  const guide = section('Set up deploy-gates in your repository');

  it.each([
    ['the environments, with required reviewers for prod', /Required reviewers/],
    ['the secrets, by the names the workflows read', /`SSH_KEY`[\s\S]*`KNOWN_HOSTS`[\s\S]*`HEALTHCHECK_TOKEN`/],
    ['the known-hosts line and how to check it', /ssh-keyscan -p 22[\s\S]*ssh-keygen -lf/],
    ['secrets: inherit, and explicit passing', /secrets: inherit[\s\S]*SSH_KEY: \$\{\{ secrets\./],
    ['the permissions of the calling jobs', /deployments: write/],
    ['the deploy user and its authorized_keys', /adduser[\s\S]*authorized_keys/],
    [
      'the shared .env and storage/ linked into releases by deploy.yml',
      /shared\/\.env[\s\S]*deploy\.yml's `shared` input/,
    ],
    ['sudoers for the reload, checked', /NOPASSWD[\s\S]*sudoers\.d[\s\S]*visudo -cf/],
    ['the web root at current/public', /current\/public/],
    ['a first staging deploy and a production deploy behind an approval', /First staging deploy[\s\S]*Production/],
  ])('covers %s', (_what, pattern) => {
    expect(guide).toMatch(pattern);
  });

  it('names only files that exist in this repository', () => {
    for (const [, path] of guide.matchAll(/`((?:examples|\.github\/workflows)\/[\w./-]+)`/g))
      expect({ path, exists: existsSync(join(repoRoot, path!)) }).toEqual({ path, exists: true });
  });
});

describe('README: nothing installed from npm under our name', () => {
  it('has no npx deploy-gates command (the package is not published; anyone could register the name)', () => {
    expect(codeLines(readme).filter((line) => /npx\s+(--\S+\s+)*deploy-gates/.test(line))).toEqual([]);
    expect(readme).not.toMatch(/`sudo npx deploy-gates [a-z]/);
  });

  it('shows the uses: lines of workflows that exist, under the owner package.json names', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { repository?: { url?: string } };
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/github\.com\/deploy-gates\/deploy-gates\.git$/);
    for (const [, owner, file] of readme.matchAll(/uses: ([\w.-]+)\/deploy-gates\/\.github\/workflows\/([\w.-]+)@/g)) {
      expect(owner).toBe('deploy-gates');
      expect({ file, exists: existsSync(join(repoRoot, '.github/workflows', file!)) }).toEqual({ file, exists: true });
    }
    for (const [, name] of readme.matchAll(/uses: deploy-gates\/deploy-gates\/actions\/([\w-]+)@/g))
      expect({ name, exists: existsSync(join(repoRoot, 'actions', name!, 'action.yml')) }).toEqual({
        name,
        exists: true,
      });
  });
});
