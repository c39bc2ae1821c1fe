import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { excluded, nameGlob, pathGlob } from '#core/units/index.js';
import { matchingReleases } from '#core/release/index.js';

/** What bash's own pattern matching (`[[ name == $pattern ]]`, as `case` does) says for each name. */
function bashMatches(pattern: string, names: readonly string[]): boolean[] {
  const script = 'p=$1; shift; for n in "$@"; do if [[ $n == $p ]]; then echo 1; else echo 0; fi; done';
  const out = execFileSync('bash', ['-c', script, 'bash', pattern, ...names], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => line === '1');
}

const NAMES = ['20250102_030405-abcdef12', 'v1', 'v10', 'v[1', '[abc', 'a]b', 'x.y', 'b', '!', 'a-b', 'ab', '.hidden'];

describe('one glob translator, read the way bash reads a pattern', () => {
  it.each([
    'v*',
    'v?',
    'v[0-9]',
    'v[!0-9]*',
    '[ab]*',
    '[^ab]*',
    '[]a]*',
    'v[1', // unclosed: a literal "[" in bash, and here
    '[abc', // unclosed at the start
    'a]b',
    'x.y',
    '*',
    '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]',
  ])('name glob %p matches what bash matches', (pattern) => {
    expect(NAMES.map((name) => nameGlob(pattern).test(name))).toEqual(bashMatches(pattern, NAMES));
  });

  it('an unclosed "[" in a path glob is the same literal "[" (it used to be one in pack-bundle, an error in release-switch)', () => {
    expect(excluded('assets/v[1/app.js', [pathGlob('v[1')])).toBe(true);
    expect(excluded('assets/v1/app.js', [pathGlob('v[1')])).toBe(false);
    expect(matchingReleases(['v[1', 'v1'], 'v[1')).toEqual(['v[1']);
  });

  it('path globs keep their gitignore reading: ** across segments, a name at any depth, / anchors', () => {
    expect(excluded('a/b/node_modules/x.js', [pathGlob('node_modules')])).toBe(true);
    expect(excluded('src/deep/x.map', [pathGlob('src/**/*.map')])).toBe(true);
    expect(excluded('lib/x.map', [pathGlob('/src/**/*.map')])).toBe(false);
    expect(excluded('a/b.log', [pathGlob('*.log')])).toBe(true);
    expect(excluded('a/b.log', [pathGlob('/*.log')])).toBe(false);
  });
});
