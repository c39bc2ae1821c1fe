import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '#cli/args.js';
import { readAction } from '#cli/metadata.js';
import { node24, repoRoot } from '../support/paths.js';
import { createLab, labUnavailable, runClient, type Lab } from '../support/netns.js';
import { commandLine, isRunning, processesWhere } from '../support/processes.js';
import { Job } from './job.js';

// The built dist/egress-sentinel/index.js, run as the runner runs it (main, the job's steps, post) inside a "runner"
// network namespace joined to a database, an outside host and a container routed through it.
const unavailable = labUnavailable();
if (unavailable)
  console.warn(
    `\n\n!!! egress-sentinel bundle tests SKIPPED: ${unavailable} (they need root, ip netns, nft and conntrack) !!!\n\n`,
  );
const describeLab = unavailable ? describe.skip : describe;

describeLab('egress-sentinel bundle in network namespaces', () => {
  let lab: Lab;
  const jobs: Job[] = [];
  const job = (inputs: Record<string, string>, user?: number) => {
    const created = new Job(lab.runner, inputs, user);
    jobs.push(created);
    return created;
  };
  const tableExists = () =>
    spawnSync('ip', ['netns', 'exec', lab.runner, 'nft', 'list', 'table', 'inet', 'deploy_gates_egress']).status === 0;

  beforeAll(async () => {
    lab = createLab();
    await lab.serve(lab.database, [5432], 5353);
    await lab.serve(lab.outside, [443, 8080], 5353);
  }, 60_000);
  afterAll(() => {
    for (const created of jobs) created.cleanup();
    lab?.destroy();
  });

  const { database4, outside4, database6, outside6 } = {
    database4: '198.18.1.2',
    outside4: '198.18.2.2',
    database6: 'fd00:1::2',
    outside6: 'fd00:2::2',
  };

  test('a job that only talks to the database: empty report, the monitor outlives the main step, rules removed', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432\n${database4}:5353\n[${database6}]:5432` });
    await run.start(); // fails with the main step's log when it does not start
    // The main step returned; the monitor it started is still running, detached.
    const pid = run.monitorPid();
    expect(commandLine(pid)).toContain('egress-sentinel');
    const results = runClient(lab, lab.runner, [`${database4}:5432`, `[${database6}]:5432`], [`${database4}:5353`]);
    expect(results.every((result) => result.ok)).toBe(true);
    expect(isRunning(pid)).toBe(true);
    const post = await run.post();
    expect(post).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    const report = run.report();
    expect(report).toMatchObject({ version: 1, method: 'conntrack', violations: [], tampered: false });
    expect(post.outputs.violations).toBe('0');
    expect(post.summary).toContain('only allowed endpoints were contacted');
    expect(isRunning(pid)).toBe(false);
    expect(tableExists()).toBe(false);
  });

  test('a main step whose inputs are rejected leaves no monitor behind, though its entry started one before they were read', async () => {
    const rejected = job({ 'allowed-endpoints': `${lab.addresses.database4}:5432`, 'resolve-interval': 'soon' });
    const main = await rejected.main();
    expect(main.exitCode).toBe(1);
    expect(main.log.match(/Input "resolve-interval"/g)).toHaveLength(1);
    const sentinelDirs = () => readdirSync(join(rejected.runnerTemp, 'deploy-gates'));
    // The entry did start a monitor (the sentinels' parent directory is there) before the inputs were read; it
    // waited for its config in a directory of its own, now removed.
    expect(existsSync(join(rejected.runnerTemp, 'deploy-gates'))).toBe(true);
    expect(sentinelDirs().filter((name) => name.startsWith('egress-sentinel-'))).toEqual([]);
    const monitors = () => processesWhere((line) => line.includes(rejected.runnerTemp)).filter(isRunning);
    for (let i = 0; i < 100 && monitors().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(monitors()).toEqual([]);
    expect(tableExists()).toBe(false);
  });

  test('connections to the outside lasting under a millisecond are each counted; TCP, UDP and IPv6', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    runClient(
      lab,
      lab.runner,
      [`${outside4}:8080`, `${outside4}:8080`, `${outside4}:8080`, `${database4}:5432`, `[${outside6}]:443`],
      [`${outside4}:5353`],
    );
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const { violations, tampered } = run.report();
    expect(tampered).toBe(false);
    const find = (address: string, port: number, protocol: string) =>
      violations.find((item) => item.address === address && item.port === port && item.protocol === protocol);
    expect(find(outside4, 8080, 'tcp')).toMatchObject({ count: 3, blocked: false, hostname: 'outside.example' });
    expect(find(outside6, 443, 'tcp')).toMatchObject({ count: 1, blocked: false });
    expect(find(outside4, 5353, 'udp')).toMatchObject({ count: 1 });
    expect(violations).toHaveLength(3);
    expect(typeof find(outside4, 8080, 'tcp')!['first-seen']).toBe('string');
    expect(post.outputs.violations).toBe('3');
    expect(post.log).toContain('3 destination(s) outside the allow-list');
    expect(post.summary).toContain('198.18.2.2:8080/tcp');
    expect(tableExists()).toBe(false);
  });

  test('block mode refuses the outside at once (IPv4 and IPv6) while the database works; rules gone after a failed job', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432\n[${database6}]:5432`, mode: 'block' });
    await run.start();
    const results = runClient(lab, lab.runner, [
      `${database4}:5432`,
      `[${database6}]:5432`,
      `${outside4}:443`,
      `[${outside6}]:443`,
    ]);
    expect(results.map((result) => [result.target, result.ok, result.code])).toEqual([
      [`${database4}:5432`, true, undefined],
      [`[${database6}]:5432`, true, undefined],
      [`${outside4}:443`, false, 'ECONNREFUSED'],
      [`[${outside6}]:443`, false, 'ECONNREFUSED'],
    ]);
    // A later step of the job fails; the post step runs anyway (post-if: always()) and cleans up.
    expect(readAction(repoRoot, 'egress-sentinel').runs).toMatchObject({
      post: '../../dist/egress-sentinel/index.js',
      'post-if': 'always()',
    });
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const { violations } = run.report();
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: outside4, port: 443, protocol: 'tcp', blocked: true, count: 1 }),
        expect.objectContaining({ address: outside6, port: 443, protocol: 'tcp', blocked: true, count: 1 }),
      ]),
    );
    expect(tableExists()).toBe(false);
    expect(runClient(lab, lab.runner, [`${outside4}:443`])[0]!.ok).toBe(true);
  });

  test('block mode: an IPv4-mapped IPv6 entry ([::ffff:198.18.1.2]:5432) allows that IPv4 destination', async () => {
    const run = job({ 'allowed-endpoints': `[::ffff:${database4}]:5432`, mode: 'block' });
    await run.start();
    expect(runClient(lab, lab.runner, [`${database4}:5432`, `${outside4}:443`])).toEqual([
      { target: `${database4}:5432`, ok: true },
      { target: `${outside4}:443`, ok: false, code: 'ECONNREFUSED' },
    ]);
    expect((await run.post()).exitCode).toBe(1);
    expect(run.report().violations).toEqual([expect.objectContaining({ address: outside4, port: 443, blocked: true })]);
  });

  test('allow-loopback: false in block mode refuses and reports loopback connections too', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block', 'allow-loopback': 'false' });
    await run.start();
    expect(runClient(lab, lab.runner, [`${database4}:5432`, '127.0.0.1:5999'])).toEqual([
      { target: `${database4}:5432`, ok: true },
      { target: '127.0.0.1:5999', ok: false, code: 'ECONNREFUSED' },
    ]);
    expect((await run.post()).exitCode).toBe(1);
    expect(run.report().violations).toEqual([
      expect.objectContaining({ address: '127.0.0.1', port: 5999, protocol: 'tcp', blocked: true, count: 1 }),
    ]);
  });

  test('a hostname entry allows every address the name resolves to, on its port; another port is named in the report', async () => {
    const run = job({ 'allowed-endpoints': 'db.internal:5432' });
    await run.start();
    runClient(lab, lab.runner, [`${database4}:5432`, `[${database6}]:5432`, `${database4}:6000`]);
    const post = await run.post();
    const report = run.report();
    expect(report.allowed.filter((item) => !item.by)).toEqual([
      { entry: 'db.internal:5432', addresses: expect.arrayContaining([database4, database6]) },
    ]);
    expect(report.violations).toEqual([
      expect.objectContaining({ address: database4, port: 6000, hostname: 'db.internal' }),
    ]);
    expect(post.exitCode).toBe(1);
  });

  test('names are resolved again while the job runs: in block mode a new address of an allowed name is let through', async () => {
    const hosts = `/etc/netns/${lab.runner}/hosts`;
    const original = readFileSync(hosts, 'utf8');
    writeFileSync(hosts, `${original}${database4} moving.internal\n`);
    try {
      const run = job({ 'allowed-endpoints': 'moving.internal:443', mode: 'block', 'resolve-interval': '1s' });
      await run.start();
      expect(runClient(lab, lab.runner, [`${outside4}:443`])[0]!.code).toBe('ECONNREFUSED');
      // The name moves to the outside host (written in place: the steps' mount of the hosts file sees it).
      writeFileSync(hosts, `${original}${outside4} moving.internal\n`);
      let results = runClient(lab, lab.runner, [`${outside4}:443`]);
      for (let i = 0; i < 50 && !results[0]!.ok; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        results = runClient(lab, lab.runner, [`${outside4}:443`]);
      }
      expect(results[0]!.ok).toBe(true);
      const post = await run.post();
      const report = run.report();
      expect(report.allowed.filter((item) => !item.by)).toEqual([
        { entry: 'moving.internal:443', addresses: [database4, outside4] },
      ]);
      expect(report.tampered).toBe(false);
      // The attempts before the new address was let through were refused and are reported; the one after is allowed.
      expect(report.violations).toEqual([
        expect.objectContaining({ address: outside4, port: 443, blocked: true, hostname: 'moving.internal' }),
      ]);
      expect(post.exitCode).toBe(1);
    } finally {
      writeFileSync(hosts, original);
    }
  });

  test('a step that flushes the rules is reported as tampering, and the job fails even with fail-on-violation off', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block', 'fail-on-violation': 'false' });
    await run.start();
    lab.exec(lab.runner, ['nft', 'flush', 'ruleset']);
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report.tampered).toBe(true);
    expect(report.tampering.join(' ')).toContain('was removed');
    expect(post.summary).toContain('tampered');
  });

  test('a step that adds an address to the allow sets (to get through block mode) is reported as tampering', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block' });
    await run.start();
    lab.exec(lab.runner, ['nft', 'add', 'element', 'inet', 'deploy_gates_egress', 'allow4any', `{ ${outside4} }`]);
    expect(runClient(lab, lab.runner, [`${outside4}:443`])[0]!.ok).toBe(true);
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    expect(run.report().tampering.join(' ')).toContain('allow sets');
  });

  test('a step that kills the monitor is reported as tampering', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    process.kill(run.monitorPid(), 'SIGKILL');
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    expect(run.report()).toMatchObject({ tampered: true });
    expect(tableExists()).toBe(false);
  });

  test('traffic forwarded from a container behind the runner is seen in audit mode and refused in block mode', async () => {
    const audit = job({ 'allowed-endpoints': `${database4}:5432` });
    await audit.start();
    expect(runClient(lab, lab.container, [`${database4}:5432`, `${outside4}:8080`]).map((result) => result.ok)).toEqual(
      [true, true],
    );
    expect((await audit.post()).exitCode).toBe(1);
    expect(audit.report().violations).toEqual([
      expect.objectContaining({ address: outside4, port: 8080, count: 1, blocked: false }),
    ]);

    const block = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block' });
    await block.start();
    expect(
      runClient(lab, lab.container, [`${database4}:5432`, `[${outside6}]:8080`]).map((result) => [
        result.ok,
        result.code,
      ]),
    ).toEqual([
      [true, undefined],
      [false, 'ECONNREFUSED'],
    ]);
    expect((await block.post()).exitCode).toBe(1);
    expect(block.report().violations).toEqual([
      expect.objectContaining({ address: outside6, port: 8080, blocked: true }),
    ]);
  });

  test('without root or sudo: audit polls /proc/net and says it can miss short connections; block fails at the start', async () => {
    const nobody = 65534;
    const audit = job({ 'allowed-endpoints': `${database4}:5432` }, nobody);
    const main = await audit.start();
    expect(main.log).toMatch(/connections shorter than \d+ms can be missed/);
    // A connection held open for a second (longer than the polling interval), by an unprivileged process (whose sockets the monitor may look into).
    lab.exec(lab.runner, [
      'setpriv',
      `--reuid=${nobody}`,
      `--regid=${nobody}`,
      '--clear-groups',
      process.execPath,
      '-e',
      `const s = require('net').connect(8080, '${outside4}'); s.on('error', () => {}); setTimeout(() => s.destroy(), 1000);`,
    ]);
    const post = await audit.post();
    expect(post.exitCode).toBe(1);
    const report = audit.report() as ReturnType<Job['report']> & { 'method-note': string };
    expect(report.method).toBe('proc-poll');
    expect(report['method-note']).toContain('can miss connections shorter than that interval');
    expect(post.summary).toContain('can miss connections shorter than that interval');
    expect(report.violations).toEqual([
      expect.objectContaining({
        address: outside4,
        port: 8080,
        protocol: 'tcp',
        process: 'node',
        pid: expect.any(Number),
      }),
    ]);

    const block = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block' }, nobody);
    const refused = await block.main();
    expect(refused.exitCode).toBe(1);
    expect(refused.log).toContain('block needs root or passwordless sudo');
    expect(tableExists()).toBe(false);
    // Its post step says so too: nothing was watched, never a pass.
    const blockPost = await block.post();
    expect(blockPost.exitCode).toBe(1);
    expect(blockPost.log).toContain('did not start (see the main step): nothing in this job was watched');
    expect(blockPost.log).not.toContain('block needs root');
  });

  test("the CLI runs a command under the sentinel: main, the command, post, and the command's violations fail the run", async () => {
    const out = mkdtempSync(join(tmpdir(), 'egress-cli-'));
    try {
      const command = [
        process.execPath,
        '-e',
        `const s = require('net').connect(443, '${outside4}', () => s.destroy());`,
      ];
      const cli = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          lab.runner,
          node24,
          join(repoRoot, 'dist/cli/index.js'),
          'egress-sentinel',
          '--allowed-endpoints',
          `${database4}:5432`,
          '--report-path',
          join(out, 'report.json'),
          '--out',
          out,
          '--',
          ...command,
        ],
        { encoding: 'utf8' },
      );
      expect(cli.status).toBe(1);
      expect(cli.stdout).toContain('▸ Run');
      expect(cli.stdout).toContain('198.18.2.2:443/tcp');
      expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).details.violations).toEqual([
        expect.objectContaining({ address: outside4, port: 443, count: 1 }),
      ]);
      expect(parseArgs(['egress-sentinel', '--mode', 'block', '--', 'make', '--test']).command).toEqual([
        'make',
        '--test',
      ]);
      expect(tableExists()).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
