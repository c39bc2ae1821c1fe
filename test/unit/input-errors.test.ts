import { describe, expect, it } from '@jest/globals';
import { parseInputs } from '#action-kit/inputs.js';
import { parseGates } from '#core/gates/spec.js';
import { healthRetryInputs } from '../../actions/health-retry/src/inputs.js';
import { releaseServicesInputs } from '../../actions/release-services/src/inputs.js';
import { releaseSwitchInputs } from '../../actions/release-switch/src/inputs.js';
import { resolveBuildRunInputs } from '../../actions/resolve-build-run/src/inputs.js';
import { preSwitchGatesInputs } from '../../actions/pre-switch-gates/src/inputs.js';
import { verifyBundleShaInputs } from '../../actions/verify-bundle-sha/src/inputs.js';

/** The message a user sees for the inputs given (others empty), as the envelope reports it. */
async function problem(shape: Record<string, never>, given: Record<string, string>): Promise<string> {
  try {
    await parseInputs(shape, (name) => given[name] ?? '');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the inputs were accepted');
}

const health = (given: Record<string, string>) =>
  problem(healthRetryInputs as never, { urls: 'https://app.example.com/health', ...given });
const resolve = (given: Record<string, string>) =>
  problem(resolveBuildRunInputs as never, { workflow: 'build.yml', ...given });

// Every message names the input, quotes the value, says what is wrong with it and shows what would be right.
describe('input errors say which input, what is wrong and an example (never a bare "Invalid input")', () => {
  it.each([
    ['5', 'Input "slo-max-error-rate": "5" is more than 1 (a fraction of all requests); for 5 percent write 5%'],
    ['150%', 'Input "slo-max-error-rate": "150%" is more than 100%; use a fraction from 0 to 1 (0.05) or a percentage'],
    ['abc', 'Input "slo-max-error-rate": "abc" is not a rate; use a fraction from 0 to 1 (0.05) or a percentage'],
  ])('slo-max-error-rate %p', async (value, message) => {
    expect(await health({ 'slo-max-error-rate': value })).toContain(message);
  });

  it('slo-p95 "2 seconds"', async () => {
    expect(await health({ 'slo-p95': '2 seconds' })).toBe(
      'Input "slo-p95": "2 seconds" is not a duration; use a number with a unit: 500ms, 5s, 2m or 1h',
    );
  });

  it('min-age "1 hour"', async () => {
    expect(await resolve({ 'min-age': '1 hour' })).toBe(
      'Input "min-age": "1 hour" is not a duration; use a number with a unit: 500ms, 5s, 2m or 1h',
    );
  });

  it('repository "not a repo", in both actions that read one', async () => {
    const expected = 'Input "repository": "not a repo" is not owner/name';
    expect(await resolve({ repository: 'not a repo' })).toContain(expected);
    expect(await resolve({ repository: 'not a repo' })).toContain('e.g. octo-org/app');
    expect(await problem(verifyBundleShaInputs as never, { repository: 'not a repo' })).toContain(expected);
  });

  it('sha: an abbreviated one is told as such, anything else as not a SHA', async () => {
    expect(await resolve({ sha: '6258437' })).toContain('Input "sha": "6258437" is an abbreviated SHA (7 characters)');
    expect(await resolve({ sha: 'main' })).toContain(
      'Input "sha": "main" is not a commit SHA; pass the full 40-character SHA',
    );
  });

  it('optional URLs keep their message (asset-manifest, slo-url)', async () => {
    expect(await health({ 'slo-url': 'ftp://x' })).toBe(
      'Input "slo-url": "ftp://x" is not an http(s) URL; e.g. https://staging.example.com/health',
    );
    expect(await health({ 'asset-manifest': 'not a url' })).toContain(
      'Input "asset-manifest": "not a url" is not a URL',
    );
  });

  // One positiveDuration for every timeout and poll interval: zero is told as too short, garbage as not a duration.
  it.each([
    ['health-retry', healthRetryInputs, 'timeout', { urls: 'https://a.example/health' }],
    ['resolve-build-run', resolveBuildRunInputs, 'poll-interval', { workflow: 'build.yml' }],
    ['release-switch', releaseSwitchInputs, 'hook-timeout', { 'releases-root': '/srv/app' }],
    ['pre-switch-gates', preSwitchGatesInputs, 'timeout', { 'release-dir': '.' }],
  ] as const)('%s: %s must be longer than 0', async (_action, shape, input, base) => {
    expect(await problem(shape as never, { ...base, [input]: '0s' })).toBe(
      `Input "${input}": "0s" must be longer than 0; use a number with a unit: 500ms, 5s, 2m or 1h`,
    );
    expect(await problem(shape as never, { ...base, [input]: 'soon' })).toBe(
      `Input "${input}": "soon" is not a duration; use a number with a unit: 500ms, 5s, 2m or 1h`,
    );
  });

  // Node's timers hold at most ~596h and fire at once past it: a `1200h` timeout would cut every command short.
  it.each([
    ['health-retry', healthRetryInputs, 'timeout', { urls: 'https://a.example/health' }],
    [
      'release-services',
      releaseServicesInputs,
      'health-timeout',
      { services: '- name: a\n  releases-root: /srv/a\n  health-urls: [https://a.example/]', release: 'r1' },
    ],
    ['release-switch', releaseSwitchInputs, 'hook-timeout', { 'releases-root': '/srv/app' }],
    ['pre-switch-gates', preSwitchGatesInputs, 'timeout', { 'release-dir': '.' }],
  ] as const)('%s: %s may be at most 24h', async (_action, shape, input, base) => {
    expect(await problem(shape as never, { ...base, [input]: '1200h' })).toBe(
      `Input "${input}": "1200h" is longer than 24h, the most it may be; e.g. 10m`,
    );
    await expect(
      parseInputs(shape as never, (name) => (({ ...base, [input]: '24h' }) as Record<string, string>)[name] ?? ''),
    ).resolves.toBeDefined();
  });

  it('release-pattern: a "[" no "]" closes is a typo, not a pattern that matches nothing', async () => {
    expect(
      await problem(releaseSwitchInputs as never, { 'releases-root': '/srv/app', 'release-pattern': '[0-9' }),
    ).toBe(
      'Input "release-pattern": "[0-9" has a "[" that no "]" closes (a class is written [0-9]); e.g. [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]',
    );
    await expect(
      parseInputs(releaseSwitchInputs as never, (name) =>
        name === 'releases-root' ? '/srv/app' : name === 'release-pattern' ? 'app-[0-9]*' : '',
      ),
    ).resolves.toBeDefined();
  });

  it('a name or path on one line: a line break in it is told, never silently joined', async () => {
    expect(await resolve({ branch: 'main\nrelease' })).toBe(
      'Input "branch": has a line break or control character in it; e.g. main',
    );
    expect(await problem(releaseSwitchInputs as never, { 'releases-root': '' })).toBe(
      'Input "releases-root": is required but was empty; e.g. /var/www/app',
    );
    expect(await health({ urls: 'https://a.example/he\talth' })).toContain('has a tab or control character');
  });

  it('min-age is an age, not a wait: days are fine', async () => {
    const inputs = await parseInputs(resolveBuildRunInputs as never, (name) =>
      name === 'min-age' ? '72h' : name === 'workflow' ? 'build.yml' : name === 'require-environment' ? 'staging' : '',
    );
    expect((inputs as Record<string, unknown>)['min-age']).toBe(72 * 3_600_000);
  });

  it('no input of any action answers a bad value with zod\'s bare "Invalid input"', async () => {
    const bad = 'x y [ ] 150% ::';
    for (const shape of [healthRetryInputs, resolveBuildRunInputs, releaseSwitchInputs, verifyBundleShaInputs]) {
      for (const input of Object.keys(shape)) {
        let message = '';
        try {
          await parseInputs(shape as never, (name) => (name === input ? bad : ''));
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).not.toMatch(/Invalid input(?!s:)/);
      }
    }
  });
});

describe('release-services services YAML errors (line, service, valid keys, did you mean)', () => {
  const services = (yaml: string) => problem(releaseServicesInputs as never, { services: yaml, release: 'r1' });

  it('an unknown key: its line, the valid keys and the key meant', async () => {
    const message = await services(
      ['- name: gateway', '  releases-root: /srv/gateway', '  health-url: https://gateway.example.com/health'].join(
        '\n',
      ),
    );
    expect(message).toContain(
      'Input "services": line 3: service 1 (gateway): unknown key "health-url"; valid keys: name,',
    );
    expect(message).toContain('did you mean "health-urls"?');
    expect(message).toContain('line 1: service 1 (gateway): health-urls needs at least one URL');
  });

  it('a line indented with a tab: told in words, gates and services alike', async () => {
    const yaml = '- name: gateway\n\treleases-root: /srv/gateway';
    expect(await services(yaml)).toBe('Input "services": line 2: indented with a tab; YAML indents with spaces only');
    expect(() => parseGates('- file: a\n\tmin-size: 1', { source: 'Input "gates"' })).toThrow(
      'line 2: indented with a tab; YAML indents with spaces only',
    );
  });

  it('a missing key, a bad URL and a bad target, each on its line, all at once', async () => {
    const message = await services(
      [
        '- name: gateway',
        '  releases-root: /srv/gateway',
        '  health-urls: ftp://x',
        '- name: worker',
        '  target: ssh://nobody',
        '  health-urls: [https://worker.example.com/health]',
      ].join('\n'),
    );
    expect(message).toContain(
      'line 3: service 1 (gateway): health-urls "ftp://x" is not an http(s) URL; e.g. https://staging.example.com/health',
    );
    expect(message).toContain(
      'line 5: service 2 (worker): target "ssh://nobody" is not local or ssh://user@host[:port]',
    );
    expect(message).toContain('line 4: service 2 (worker): releases-root is required');
  });

  it('YAML that does not parse: the line, no code frame', async () => {
    const message = await services('- name: gateway\n  releases-root: [unclosed\n');
    expect(message).toMatch(/^Input "services": line \d: not valid YAML \(/);
    expect(message).not.toContain('\n');
  });

  it('not a list', async () => {
    expect(await services('name: gateway')).toContain('must be a YAML list with at least one service');
  });
});
