import { describe, expect, it } from '@jest/globals';
import { UserError } from '#core/errors.js';
import { releasePath, type Gate } from '#core/gates/model.js';
import { parseGates } from '#core/gates/spec.js';
import { presetGates } from '#core/gates/presets.js';

const parse = (text: string, env: Record<string, string> = {}) =>
  parseGates(text, { source: 'Input "gates"', env: (name) => env[name] });

function problem(text: string, env: Record<string, string> = {}): string {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error('expected the gates to be rejected');
}

describe('gate YAML', () => {
  it('reads every kind with its options, and names gates when no name is given', () => {
    const gates = parse(`
- file: vendor/autoload.php
  min-size: 1k
- dir: storage/
  writable: true
- absent: public/hot
- symlink: .env
  points-to: /var/www/shared/.env
- json: composer.json
  expect: |
    name=acme/api
    require.php=^8.2
- command: php artisan --version
  name: artisan boots
  expect-exit: 0
  expect-output: ^Laravel Framework 11
  timeout: 20s
- env-match: {file: .env, key: HEALTHCHECK_TOKEN, secret: "s3cret-token"}
`);
    expect(gates.map((gate) => [gate.kind, gate.name])).toEqual([
      ['file', 'file vendor/autoload.php (≥ 1024 bytes)'],
      ['dir', 'dir storage (writable)'],
      ['absent', 'absent public/hot'],
      ['symlink', 'symlink .env → /var/www/shared/.env'],
      ['json', 'json composer.json'],
      ['command', 'artisan boots'],
      ['env-match', 'env-match .env HEALTHCHECK_TOKEN'],
    ]);
    expect(gates[0]).toMatchObject({ path: 'vendor/autoload.php', minSize: 1024 });
    expect(gates[1]).toMatchObject({ path: 'storage', writable: true });
    expect((gates[4] as Extract<Gate, { kind: 'json' }>).expect.map((assertion) => assertion.text)).toEqual([
      'name=acme/api',
      'require.php=^8.2',
    ]);
    expect(gates[5]).toMatchObject({ command: 'php artisan --version', expectExit: 0, timeoutMs: 20_000 });
    expect((gates[5] as Extract<Gate, { kind: 'command' }>).expectOutput!.test('Laravel Framework 11.31.0')).toBe(true);
    expect(gates[6]).toMatchObject({ file: '.env', key: 'HEALTHCHECK_TOKEN', secret: 's3cret-token' });
  });

  it('defaults: command expects exit 0, env-match reads .env, an empty text is no gates', () => {
    expect(parse('- command: "true"')[0]).toMatchObject({
      expectExit: 0,
      expectOutput: undefined,
      timeoutMs: undefined,
    });
    expect(parse('- env-match: {key: TOKEN, secret: abcdef}')[0]).toMatchObject({ file: '.env' });
    expect(parse('')).toEqual([]);
    expect(parse('# only a comment\n')).toEqual([]);
  });

  it('takes an env-match secret from the step environment with secret-env', () => {
    expect(
      parse('- env-match: {key: HEALTHCHECK_TOKEN, secret-env: HC_TOKEN}', { HC_TOKEN: 'from-env-123' })[0],
    ).toMatchObject({ secret: 'from-env-123' });
    expect(problem('- env-match: {key: HEALTHCHECK_TOKEN, secret-env: HC_TOKEN}')).toMatch(
      /line 1: environment variable HC_TOKEN is not set or empty; add it to the step/,
    );
    expect(problem('- env-match: {key: HEALTHCHECK_TOKEN, secret: 4711}')).toMatch(
      /line 1: env-match.secret must be text: put the secret in quotes/,
    );
    expect(problem('- env-match: {key: HEALTHCHECK_TOKEN, secret: 4711}')).not.toContain('4711');
    expect(problem('- env-match: {key: HEALTHCHECK_TOKEN}')).toMatch(
      /line 1: env-match needs exactly one of secret .* or secret-env/,
    );
    // A secret with ", " in it, substituted into flow YAML, splits into a second key: its text is never quoted.
    const split = problem('- env-match: {file: .env, key: HEALTHCHECK_TOKEN, secret: Tr0ub4dor, horse battery staple}');
    expect(split).toMatch(/an unknown key for env-match \(not shown: it may be part of a secret split at a comma\)/);
    expect(split).not.toContain('horse battery staple');
  });

  it('names an unknown kind with its line and the valid kinds', () => {
    expect(problem('- file: artisan\n\n- fiel: composer.json\n')).toBe(
      'Input "gates": line 3: unknown gate kind "fiel"; valid kinds: file, dir, absent, symlink, json, command, env-match, backup-fresh. Fix the YAML (see the gate reference in the README).',
    );
    expect(problem('- artisan')).toMatch(
      /line 1: a gate is a mapping whose key names its kind, e.g. "- file: artisan"/,
    );
    expect(problem('file: artisan')).toMatch(/line 1: gates must be a YAML list/);
    expect(problem('- file: a\n  dir: b')).toMatch(/line 1: one gate has several kinds \(file, dir\)/);
  });

  it('names an unknown key with its line, the valid keys and the key a typo meant, also inside env-match', () => {
    expect(problem('- file: artisan\n- dir: storage\n  writeable: true\n')).toMatch(
      /^Input "gates": line 3: unknown key "writeable" for a dir gate; valid keys: dir, name, writable; did you mean "writable"\?\./,
    );
    expect(problem('- fil: artisan\n')).toMatch(
      /line 1: unknown gate kind "fil"; valid kinds: .*; did you mean "file"\?/,
    );
    expect(problem('- env-match:\n    key: A\n    secret: xyz123\n    hash: sha1\n')).toMatch(
      /line 4: unknown key "hash" for env-match; valid keys: file, key, secret, secret-env/,
    );
  });

  it('reports bad values with their line, and every problem at once', () => {
    const message = problem(
      [
        '- file: a',
        '  min-size: lots',
        '- command: "true"',
        '  expect-exit: 300',
        '- command: x',
        '  timeout: 5',
        '- json: a.json',
        '  expect: nonsense',
        '- command: x',
        '  expect-output: "("',
      ].join('\n'),
    );
    expect(message).toMatch(/^Input "gates" has 5 problems:/);
    expect(message).toContain('line 2: min-size "lots" is not a size; write bytes (1024) or with a unit (10k, 2M)');
    expect(message).toContain('line 4: expect-exit must be an exit code from 0 to 255');
    expect(message).toContain('line 6: timeout 5 is not a duration above 0; use a number with a unit');
    expect(message).toContain('line 8: expect "nonsense" is not a path=value assertion');
    expect(message).toContain('line 10: expect-output "(" is not a valid regular expression');
    expect(problem('- command: x\n  timeout: 700h')).toMatch(
      /line 2: timeout "700h" is longer than 24h, the most it may be/,
    );
    expect(problem('- file:')).toMatch(/line 1: file must be a path relative to the release directory/);
    expect(problem('- dir: storage\n  writable: maybe')).toMatch(
      /line 2: writable "maybe" is not a boolean; write true or false/,
    );
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problem('- file: artisan\n- dir: [storage\n')).toMatch(/^Input "gates": line \d: /);
    expect(problem('- file: a\n  file: b\n')).toMatch(/line 2: Map keys must be unique/);
  });

  it('rejects paths that leave the release directory', () => {
    expect(problem('- file: /etc/passwd')).toMatch(
      /line 1: file "\/etc\/passwd" is absolute; write it relative to the release directory/,
    );
    expect(problem('- dir: storage/../../shared')).toMatch(
      /line 1: dir "storage\/..\/..\/shared" leaves the release directory through ".."/,
    );
    expect(problem('- env-match: {file: ../shared/.env, key: A, secret: abcdef}')).toMatch(
      /line 1: env-match.file "..\/shared\/.env" leaves the release directory/,
    );
    expect(problem('- json: ~/x.json')).toMatch(/is absolute/);
    expect(releasePath('storage/../bootstrap/cache/')).toEqual({ value: 'bootstrap/cache' });
    expect(releasePath('.')).toEqual({ value: '.' });
  });

  it('never quotes an env-match secret in an error', () => {
    const secret = 'Zq8-very-secret-token-value';
    for (const text of [
      `- env-match: {key: A, secret: ${secret}, hash: x}`,
      `- env-match: {key: "bad key", secret: ${secret}}`,
      `- env-match: {key: A, secret: ${secret}\n- dir: [x`,
      `- env-match: {key: A, secret: "${secret}}`,
    ]) {
      expect(problem(text)).not.toContain(secret.slice(4, 16));
    }
  });
});

describe('presets', () => {
  it("laravel is the seeds' 9 structure checks plus the 2 PHP checks", () => {
    const gates = presetGates('laravel');
    expect(gates.map((gate) => gate.name)).toEqual([
      'file artisan',
      'file composer.json',
      'file public/index.php',
      'file vendor/autoload.php',
      'file bootstrap/app.php',
      'dir bootstrap/cache (writable)',
      'dir storage (writable)',
      'dir config',
      'dir routes',
      'php: vendor/autoload.php loads',
      'php artisan --version',
    ]);
    expect(gates.filter((gate) => gate.kind !== 'command')).toHaveLength(9);
  });

  it('node and python have their own checks; none has none', () => {
    expect(presetGates('node').map((gate) => gate.kind)).toEqual(['json', 'command', 'command']);
    expect(presetGates('python').map((gate) => gate.kind)).toEqual(['command', 'command']);
    expect(presetGates('none')).toEqual([]);
  });
});
