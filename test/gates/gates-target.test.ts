import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { UserError } from '#core/errors.js';
import { parseGates } from '#core/gates/spec.js';
import { presetGates } from '#core/gates/presets.js';
import { runGates, type GatesOutcome } from '#core/gates/run.js';
import { MemoryLogger } from '#core/logger.js';
import { Redactor } from '#core/redact.js';
import { headline } from '#core/report/result.js';
import { runProcess } from '#core/hosts/local.js';
import { shellQuote, type Target } from '#core/hosts/target.js';
import { laravelRelease, makeTree, removeTree, writeTree } from '../support/releases.js';
import { targetKinds } from '../support/targets.js';

const SECRET = 'hc_7Qm2-secret-token-Xw91';

describe.each(targetKinds)('gates on a $name target', (kind) => {
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(async () => {
    await target.close();
    await kind.teardown();
  });
  beforeEach(async () => {
    dir = await makeTree(target, laravelRelease());
  });
  afterEach(async () => {
    await removeTree(target, dir);
  });

  const gates = (yaml: string) => parseGates(yaml, { source: 'test' });
  const run = (list = presetGates('laravel'), timeoutMs = 30_000, logger = new MemoryLogger()) =>
    runGates(target, dir, list, { timeoutMs }, { logger });
  const detail = (outcome: GatesOutcome, name: string) => outcome.results.find((result) => result.name === name);
  /** A listing with sizes, modes and times of everything in the release, to prove gates change nothing. */
  const snapshot = async () =>
    (await target.run(`cd ${shellQuote(dir)} && find . -exec ls -ld --time-style=full-iso {} + | sort`)).stdout;

  it('passes the laravel preset on a Laravel-shaped release: 9 structure checks plus 2 PHP checks', async () => {
    const before = await snapshot();
    const outcome = await run();
    expect(outcome.results.map((result) => [result.name, result.status])).toEqual(
      presetGates('laravel').map((gate) => [gate.name, 'pass']),
    );
    expect(headline('Pre-switch gates (pre-switch)', outcome.results)).toBe(
      'Pre-switch gates (pre-switch): 11/11 PASSED',
    );
    expect(detail(outcome, 'php artisan --version')!.detail).toBe('exit 0: Laravel Framework 11.31.0');
    expect(detail(outcome, 'php: vendor/autoload.php loads')!.detail).toBe('exit 0: autoload-ok');
    expect(outcome.releaseDir).toBe(dir);
    expect(await snapshot()).toBe(before);
  });

  it('fails a release without vendor/autoload.php, and still runs every gate', async () => {
    await target.run(`rm ${shellQuote(`${dir}/vendor/autoload.php`)}`);
    const outcome = await run();
    expect(outcome.total).toBe(11);
    expect(
      outcome.results.filter((result) => result.status === 'fail').map((result) => [result.name, result.detail]),
    ).toEqual([
      ['file vendor/autoload.php', 'expected a regular file, found missing'],
      [
        'php: vendor/autoload.php loads',
        expect.stringMatching(
          /^exit 255, expected 0: PHP Fatal error: +Uncaught Error: Failed opening required 'vendor\/autoload.php'/,
        ),
      ],
      ['php artisan --version', expect.stringMatching(/^exit 255, expected 0: PHP Fatal error/)],
    ]);
    expect(headline('Pre-switch gates (pre-switch)', outcome.results)).toBe(
      'Pre-switch gates (pre-switch): FAILED (8/11 passed, 3 failed)',
    );
  });

  it('fails a broken autoloader (a PHP fatal error) although the file is there', async () => {
    await writeTree(target, dir, { 'vendor/autoload.php': "<?php\nrequire __DIR__.'/composer/autoload_real.php';\n" });
    const outcome = await run();
    expect(detail(outcome, 'file vendor/autoload.php')!.status).toBe('pass');
    expect(detail(outcome, 'php: vendor/autoload.php loads')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/PHP Fatal error.*autoload_real\.php/),
    });
    expect(outcome.failed).toBe(2);
  });

  it.each([
    ['file', '- file: artisan\n  min-size: 10', '- file: storage', /^expected a regular file, found a directory$/],
    [
      'file min-size',
      '- file: composer.json',
      '- file: composer.json\n  min-size: 1M',
      /bytes, below min-size 1\.0 MiB$/,
    ],
    ['dir', '- dir: storage/logs', '- dir: artisan', /^expected a directory, found a regular file$/],
    ['absent', '- absent: public/hot', '- absent: public/index.php', /^must not exist, found a regular file$/],
    [
      'symlink',
      '- symlink: linked-env\n  points-to: shared.env',
      '- symlink: dangling',
      /^symlink → nowhere.env, but its target does not exist$/,
    ],
    [
      'symlink points-to',
      '- symlink: linked-env',
      '- symlink: linked-env\n  points-to: /var/www/shared/.env',
      /^symlink → shared.env \(.*\/shared.env\), expected \/var\/www\/shared\/.env$/,
    ],
    [
      'json',
      '- json: composer.json\n  expect: require.php=^8.2',
      '- json: public/index.php',
      /^not valid JSON at line 1, column 1 \(byte 0\): unexpected character; its content is not shown$/,
    ],
    [
      'json expect',
      '- json: composer.json\n  expect: name=acme/api',
      '- json: composer.json\n  expect: |\n    name=acme/web\n    extra.x=1',
      /^expected name=acme\/web, got "acme\/api"; extra.x is missing \(expected extra.x=1\)$/,
    ],
    [
      'command exit',
      '- command: test -d storage',
      '- command: exit 3\n  expect-exit: 4',
      /^exit 3, expected 4: no output$/,
    ],
    [
      'command output',
      '- command: printf "ok\\nversion 2\\n"\n  expect-output: ^version \\d',
      '- command: echo hello\n  expect-output: ^bye',
      /^exit 0, but the output does not match \/\^bye\/: hello$/,
    ],
  ])('%s gate: passes, and fails with a reason', async (_kind, passing, failing, reason) => {
    await writeTree(target, dir, { 'shared.env': 'X=1\n' });
    await target.run(`cd ${shellQuote(dir)} && ln -s shared.env linked-env && ln -s nowhere.env dangling`);
    const outcome = await run([...gates(passing), ...gates(failing)]);
    expect(outcome.results[0]).toMatchObject({ status: 'pass' });
    expect(outcome.results[1]).toMatchObject({ status: 'fail', detail: expect.stringMatching(reason) });
  });

  it('shows where a json gate file stops being JSON, never its content; and masks a secret in command output before cutting it', async () => {
    await writeTree(target, dir, {
      '.env': `APP_KEY=base64:${SECRET}\n`,
      'broken.json': '{\n  "name": "acme",\n  "key": "é' + SECRET + '"\n  "x": 1\n}\n',
    });
    const outcome = await runGates(
      target,
      dir,
      gates(
        `- json: .env\n- json: broken.json\n- command: echo "$(printf '%0154d' 0) ${SECRET} more"\n  expect-output: never`,
      ),
      { timeoutMs: 30_000 },
      { redactor: new Redactor([SECRET]) },
    );
    expect(outcome.results.map((result) => result.detail)).toEqual([
      'not valid JSON at line 1, column 1 (byte 0): unexpected character; its content is not shown',
      `not valid JSON at line 4, column 3 (byte ${36 + SECRET.length}): unexpected character; its content is not shown`,
      `exit 0, but the output does not match /never/: ${'0'.repeat(154)} ***…`,
    ]);
    for (const result of outcome.results) expect(result.detail).not.toMatch(/APP_KEY|hc_7|acme/);
  });

  it('masks a secret in the value a json gate shows on a mismatch before cutting it to one line', async () => {
    // The value straddles the cut at 121 characters: cut first, its first part would escape the mask.
    await writeTree(target, dir, {
      'config.json': JSON.stringify({ db: { password: `${'p'.repeat(100)}${SECRET}` } }),
    });
    const outcome = await runGates(
      target,
      dir,
      gates('- json: config.json\n  expect: db.password=expected'),
      {
        timeoutMs: 30_000,
      },
      { redactor: new Redactor([SECRET]) },
    );
    expect(outcome.results[0]).toMatchObject({ status: 'fail' });
    expect(outcome.results[0]!.detail).toMatch(/^expected db\.password=expected, got "p{100}\*\*\*/);
    expect(outcome.results[0]!.detail).not.toContain(SECRET.slice(0, 8));
  });

  it('node preset: package.json parses, dependencies are there, node resolves main', async () => {
    await target.run(`cd ${shellQuote(dir)} && rm -rf ./* && mkdir -p node_modules lib`);
    await writeTree(target, dir, {
      'package.json': '{"name":"acme-web","main":"lib/server.js"}',
      'lib/server.js': 'module.exports = 1;\n',
    });
    const passing = await run(presetGates('node'));
    expect(passing.results.map((result) => [result.name, result.status, result.detail])).toEqual([
      ['json package.json', 'pass', 'valid JSON'],
      ['dependencies: node_modules/ or a lockfile', 'pass', 'exit 0: node_modules/ present'],
      ['node loads package.json', 'pass', expect.stringMatching(/^exit 0: package-ok acme-web on node v\d+/)],
    ]);
    await target.run(`cd ${shellQuote(dir)} && rm -rf node_modules lib`);
    const failing = await run(presetGates('node'));
    expect(failing.results.map((result) => [result.status, result.detail])).toEqual([
      ['pass', 'valid JSON'],
      ['fail', expect.stringMatching(/^exit 1, expected 0: neither node_modules\/ nor a lockfile/)],
      ['fail', expect.stringMatching(/^exit 1, expected 0: .*Cannot find module/)],
    ]);
  });

  it('python preset: a dependency file, and the release venv (or python3) starts', async () => {
    await target.run(`cd ${shellQuote(dir)} && rm -rf ./*`);
    const missing = await run(presetGates('python'));
    expect(missing.results[0]).toMatchObject({
      status: 'fail',
      detail: 'exit 1, expected 0: neither requirements.txt nor pyproject.toml',
    });
    expect(missing.results[1]).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^exit 0: python-ok 3\.\d+/),
    });
    await writeTree(target, dir, {
      'requirements.txt': 'flask==3.0.0\n',
      '.venv/bin/python': '#!/bin/sh\necho "venv is broken" >&2\nexit 2\n',
    });
    await target.run(`chmod +x ${shellQuote(`${dir}/.venv/bin/python`)}`);
    const brokenVenv = await run(presetGates('python'));
    expect(brokenVenv.results.map((result) => [result.status, result.detail])).toEqual([
      ['pass', 'exit 0: requirements.txt'],
      ['fail', 'exit 2, expected 0: venv is broken'],
    ]);
  });

  it('runs commands in the release directory', async () => {
    const outcome = await run(gates('- command: pwd\n  expect-output: gates-release'));
    expect(outcome.results[0]).toMatchObject({ status: 'pass', detail: `exit 0: ${dir}` });
  });

  it('runs command gates one after another in the order given, each with stdin closed and its own output', async () => {
    const outcome = await run(
      gates(
        [
          '- command: "sleep 0.2; echo one > order.txt; echo first"',
          '- command: "cat; echo two >> order.txt; paste -s -d \\" \\" order.txt"',
          '- command: "rm order.txt; echo oops >&2; exit 3"',
        ].join('\n'),
      ),
    );
    expect(outcome.results.map((result) => [result.status, result.detail])).toEqual([
      ['pass', 'exit 0: first'],
      ['pass', 'exit 0: one two'],
      ['fail', 'exit 3, expected 0: oops'],
    ]);
    expect(outcome.results[0]!.durationMs).toBeGreaterThanOrEqual(150);
  });

  it("times a command gate by the host's clock when its markers reach a busy runner together", async () => {
    // A runner whose event loop was held up reads the begin and done markers in one chunk, after the gate ended.
    const late: Target = {
      description: target.description,
      close: () => target.close(),
      async run(script, options = {}) {
        const { onStdout, ...rest } = options;
        const result = await target.run(script, rest);
        onStdout?.(result.stdout);
        return result;
      },
    };
    const outcome = await runGates(late, dir, gates('- command: "sleep 0.3; echo slept"'), { timeoutMs: 30_000 });
    expect(outcome.results[0]).toMatchObject({ status: 'pass', detail: 'exit 0: slept' });
    expect(outcome.results[0]!.durationMs).toBeGreaterThanOrEqual(250);
    expect(outcome.results[0]!.durationMs).toBeLessThan(5_000);
  });

  it('finds every marker when the output arrives a few bytes at a time (only a tail of it is searched)', async () => {
    const dribbling: Target = {
      description: target.description,
      close: () => target.close(),
      async run(script, options = {}) {
        const { onStdout, ...rest } = options;
        const result = await target.run(script, rest);
        for (let at = 0; at < result.stdout.length; at += 3) onStdout?.(result.stdout.slice(at, at + 3));
        return result;
      },
    };
    const text = gates('- command: "yes line | head -c 20000; sleep 0.3"\n- command: "echo two"');
    const outcome = await runGates(dribbling, dir, text, { timeoutMs: 30_000 });
    expect(outcome.results.map((result) => result.status)).toEqual(['pass', 'pass']);
    expect(outcome.results[0]!.durationMs).toBeGreaterThanOrEqual(250);
  });

  it('bounds the match of expect-output by the gate timeout: a backtracking pattern fails the gate, not the step', async () => {
    const outcome = await run(
      gates(`- command: "printf ${'a'.repeat(40)}!"\n  expect-output: "^(a+)+$"\n  timeout: 1s\n- command: "true"`),
    );
    expect(outcome.results.map((result) => [result.status, result.detail])).toEqual([
      ['fail', expect.stringMatching(/^exit 0, but matching the output against \/\^\(a\+\)\+\$\/ took longer than 1s/)],
      ['pass', 'exit 0'],
    ]);
  });

  it('kills a command at its timeout and fails the gate', async () => {
    const outcome = await run(gates('- command: sleep 30\n  timeout: 300ms\n- command: "true"'));
    expect(outcome.results.map((result) => [result.status, result.detail])).toEqual([
      ['fail', 'timed out after 300ms (killed)'],
      ['pass', 'exit 0'],
    ]);
  });

  it('stops a command that streams output without end (a crafted artisan) before it fills the runner memory', async () => {
    // `yes` prints for ever; its 2-minute timeout would let it print gigabytes first. The test's own timeout (60 s)
    // fails it unless the cap stops it.
    const outcome = await run(gates('- command: yes\n  timeout: 2m\n- command: "true"'), 120_000);
    expect(outcome.results.map((result) => [result.status, result.detail])).toEqual([
      [
        'fail',
        "printed more than 32 MiB, so it was stopped; a gate's command should print a line or two (a version, a status), not a stream",
      ],
      ['fail', 'not run: an earlier command gate printed too much and was stopped'],
    ]);
    // Nothing of it is left running on the target.
    const left = await target.run(`pgrep -f '^yes$' || true`);
    expect(left.stdout.trim()).toBe('');
  });

  describe('env-match', () => {
    it.each([
      ['KEY=value', `HEALTHCHECK_TOKEN=${SECRET}\n`],
      ['KEY="value" with a comment after it', `APP_KEY=base64:x\nHEALTHCHECK_TOKEN="${SECRET}" # rotated\n`],
      ["KEY='value'", `HEALTHCHECK_TOKEN='${SECRET}'\n`],
      ['export KEY=value with CRLF', `export HEALTHCHECK_TOKEN=${SECRET}\r\nOTHER=1\r\n`],
      ['spaces around = and a trailing comment', `  HEALTHCHECK_TOKEN = ${SECRET}   # note\n`],
      ['no newline at the end of the file', `# comment\nHEALTHCHECK_TOKEN=${SECRET}`],
    ])('matches when the value equals the secret: %s', async (_form, env) => {
      await writeTree(target, dir, { '.env': env });
      const logger = new MemoryLogger();
      const outcome = await run(
        parseGates('- env-match: {file: .env, key: HEALTHCHECK_TOKEN, secret-env: T}', {
          source: 'test',
          env: () => SECRET,
        }),
        30_000,
        logger,
      );
      expect(outcome.results[0]).toMatchObject({
        status: 'pass',
        detail: 'HEALTHCHECK_TOKEN in .env matches the secret (SHA-256 compared; neither value shown)',
      });
      expect(JSON.stringify([outcome, logger.lines])).not.toContain(SECRET);
    });

    it('fails on a different value, a missing key or a missing file, without showing either value', async () => {
      const other = 'hc_other-token-on-the-host';
      await writeTree(target, dir, {
        // Defined twice: the last definition counts, as Laravel reads it (the secret's value comes first here).
        '.env': `HEALTHCHECK_TOKEN=${SECRET}\nHEALTHCHECK_TOKEN=${other}\n`,
        'empty.env': '# nothing\n',
      });
      const logger = new MemoryLogger();
      const outcome = await run(
        gates(
          [
            `- env-match: {key: HEALTHCHECK_TOKEN, secret: ${SECRET}}`,
            `- env-match: {file: empty.env, key: HEALTHCHECK_TOKEN, secret: ${SECRET}}`,
            `- env-match: {file: config/.env, key: HEALTHCHECK_TOKEN, secret: ${SECRET}}`,
          ].join('\n'),
        ),
        30_000,
        logger,
      );
      expect(outcome.results.map((result) => [result.status, result.detail])).toEqual([
        [
          'fail',
          'HEALTHCHECK_TOKEN in .env does not match the secret (SHA-256 differs; neither value shown) (HEALTHCHECK_TOKEN is defined 2 times; the last counts, as in Laravel)',
        ],
        ['fail', 'HEALTHCHECK_TOKEN is not set in empty.env'],
        ['fail', 'config/.env: expected a file, found missing'],
      ]);
      const everything = JSON.stringify([outcome, logger.lines]);
      expect(everything).not.toContain(SECRET);
      expect(everything).not.toContain(other);
    });
  });

  it('runs every non-command gate of the laravel preset in one script, and all command gates in one more, at the same time', async () => {
    const scripts: string[] = [];
    const counting: Target = {
      description: target.description,
      run: (script, options) => {
        scripts.push(`${script}\n${options?.stdin ?? ''}`);
        return target.run(script, options);
      },
      close: async () => {},
    };
    const structure = presetGates('laravel').filter((gate) => gate.kind !== 'command');
    expect(structure).toHaveLength(9);
    const checks = await runGates(counting, dir, structure, { timeoutMs: 30_000 });
    expect(checks.results.map((result) => result.status)).toEqual(structure.map(() => 'pass'));
    expect(scripts).toHaveLength(1);
    expect(checks.roundTrips).toBe(1);

    scripts.length = 0;
    const all = await runGates(counting, dir, presetGates('laravel'), { timeoutMs: 30_000 });
    expect(all.passed).toBe(11);
    expect(scripts).toHaveLength(2);
    expect(all.roundTrips).toBe(2);

    // env-match: the secret never reaches the host (not in a script, not on stdin); only its key and file do.
    scripts.length = 0;
    await writeTree(target, dir, { '.env': `HEALTHCHECK_TOKEN=${SECRET}\n` });
    const env = await runGates(
      counting,
      dir,
      [...structure, ...gates(`- env-match: {key: HEALTHCHECK_TOKEN, secret: ${SECRET}}`)],
      { timeoutMs: 30_000 },
    );
    expect(env.passed).toBe(10);
    expect(scripts).toHaveLength(1);
    expect(scripts.join('\n')).not.toContain(SECRET);
  });

  it("keeps each gate's answer apart even when a file imitates the framing of the batch", async () => {
    await writeTree(target, dir, { 'fake.json': '{"a": 1}\ndg-0 end 0 0\n\ndg-0 done 0\n' });
    const outcome = await run(gates('- json: fake.json\n- file: artisan\n- absent: public/hot'));
    expect(outcome.results.map((result) => [result.status, result.detail])).toEqual([
      ['fail', expect.stringMatching(/^not valid JSON at line 2/)],
      ['pass', expect.stringMatching(/^regular file, /)],
      ['pass', 'absent'],
    ]);
    expect(outcome.roundTrips).toBe(1);
  });

  it('fails clearly when the release directory is a file, naming the argument (the action maps it to its input)', async () => {
    const failure = runGates(target, `${dir}/artisan`, presetGates('laravel'), { timeoutMs: 30_000 });
    await expect(failure).rejects.toThrow(`${dir}/artisan on ${target.description} is not a directory`);
    await expect(failure).rejects.toMatchObject({ argument: 'releaseDir' });
  });

  it('fails clearly when the release directory does not exist', async () => {
    const missing = `${dir}-not-unpacked`;
    await expect(runGates(target, missing, presetGates('laravel'), { timeoutMs: 30_000 })).rejects.toThrow(UserError);
    await expect(runGates(target, missing, presetGates('laravel'), { timeoutMs: 30_000 })).rejects.toThrow(
      `${missing} does not exist on ${target.description}; pass the directory the release was unpacked into`,
    );
  });
});

/**
 * `test -w` is true for root on any directory, so the read-only case runs the same LocalTarget scripts as an
 * unprivileged user (setpriv) when the tests run as root, the way a deploy user meets a root-owned storage/.
 */
describe('dir writable on a local target as an unprivileged user', () => {
  const asRoot = process.getuid?.() === 0;
  const unprivileged: Target = {
    description: 'local (uid 65534)',
    run: (script, options) =>
      asRoot
        ? runProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', script], options)
        : runProcess('/bin/sh', ['-c', script], options),
    close: async () => {},
  };
  let dir: string;
  beforeAll(async () => {
    dir = await makeTree(
      { ...unprivileged, run: (script, options) => runProcess('/bin/sh', ['-c', script], options) },
      laravelRelease(),
    );
    await runProcess('/bin/sh', [
      '-c',
      `chmod -R a+rX ${shellQuote(dir)} && chmod 555 ${shellQuote(`${dir}/storage`)}; chmod 777 ${shellQuote(`${dir}/bootstrap/cache`)}`,
    ]);
  });
  afterAll(async () => {
    await removeTree(
      { ...unprivileged, run: (script, options) => runProcess('/bin/sh', ['-c', script], options) },
      dir,
    );
  });

  it('fails a read-only storage/ and names the user', async () => {
    const outcome = await runGates(
      unprivileged,
      dir,
      presetGates('laravel').filter((gate) => gate.kind === 'dir'),
      { timeoutMs: 30_000 },
    );
    const user = (await unprivileged.run('id -un 2>/dev/null || id -u')).stdout.trim();
    expect(outcome.results.map((result) => [result.name, result.status, result.detail])).toEqual([
      ['dir bootstrap/cache (writable)', 'pass', `directory, writable by ${user}`],
      [
        'dir storage (writable)',
        'fail',
        `directory, but not writable by ${user} (fix ownership/permissions, e.g. chmod -R ug+w storage)`,
      ],
      ['dir config', 'pass', 'directory'],
      ['dir routes', 'pass', 'directory'],
    ]);
  });
});
