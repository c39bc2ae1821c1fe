import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createLab, labUnavailable, runClient, type Lab } from '../support/netns.js';
import { isRunning, processesWhere } from '../support/processes.js';
import { Job } from './job.js';

// The sudo path with a real non-root job user (made by the test, with a sudoers entry of the test's own): the monitor
// runs as root in a session of its own, which that user cannot stop; and disable-sudo / disable-containers take sudo
// and the Docker socket away from that user while the sentinel watches, and give them back at the end.
const unavailable =
  labUnavailable() ?? (spawnSync('sudo', ['--version']).status !== 0 ? '`sudo` is not installed' : undefined);
if (unavailable) console.warn(`\n\n!!! egress-sentinel sudo tests SKIPPED: ${unavailable} !!!\n\n`);
const describeLab = unavailable ? describe.skip : describe;

const database4 = '198.18.1.2';
const outside4 = '198.18.2.2';
const user = `dgsu${process.pid}`;
const sudoers = `/etc/sudoers.d/dg-test-${process.pid}`;
const sudoersText = `${user} ALL=(ALL:ALL) NOPASSWD:ALL\n`;
const dockerSocket = '/var/run/docker.sock';
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab('egress-sentinel with a non-root job user that has passwordless sudo', () => {
  let lab: Lab;
  let uid = 0;
  let socket: Server | undefined;
  const jobs: Job[] = [];
  const job = (inputs: Record<string, string>) => {
    const created = new Job(lab.runner, inputs, uid);
    jobs.push(created);
    return created;
  };
  /** A command run as the job's user in the runner namespace (as a later step of the job). */
  const asUser = (command: string[]) =>
    spawnSync(
      'ip',
      ['netns', 'exec', lab.runner, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...command],
      { encoding: 'utf8' },
    );
  const canSudo = () => asUser(['sudo', '-n', 'true']).status === 0;
  /** Whether the job's user can connect to the Docker socket (a real listening socket of the test's). */
  const canUseDocker = () =>
    asUser([
      process.execPath,
      '-e',
      `require('net').connect(${JSON.stringify(dockerSocket)}).on('connect', () => process.exit(0)).on('error', () => process.exit(1))`,
    ]).status === 0;

  beforeAll(async () => {
    lab = createLab('s');
    // sudo looks up the machine's own name; the runner namespace's resolver (a lab address) would make it wait.
    appendFileSync(`/etc/netns/${lab.runner}/hosts`, `127.0.1.1 ${hostname()}\n`);
    await lab.serve(lab.database, [5432], 5353);
    await lab.serve(lab.outside, [443, 8080], 5353);
    execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', user]);
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    writeFileSync(sudoers, sudoersText, { mode: 0o440 });
    // A stand-in for Docker's socket, owned by the job's user (as a `docker` group member would reach it).
    if (!existsSync(dockerSocket)) {
      socket = createServer((connection) => connection.end());
      await new Promise<void>((resolve) => socket!.listen(dockerSocket, resolve));
      chownSync(dockerSocket, uid, 0);
      chmodSync(dockerSocket, 0o660);
    }
  }, 60_000);
  // A stop step leaves the monitor running (only the post step can stop it): each test's job ends before the next.
  afterEach(async () => {
    for (const created of jobs) await created.finish();
  }, 60_000);
  afterAll(async () => {
    for (const created of jobs) created.cleanup();
    rmSync(sudoers, { force: true });
    spawnSync('userdel', [user]);
    if (socket) await new Promise((resolve) => socket!.close(resolve));
    lab?.destroy();
  });

  test('the monitor runs as root in a session of its own: the job user cannot kill -STOP it; its violations are reported', async () => {
    expect(canSudo()).toBe(true);
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const pid = run.monitorPid();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+0\s/m);
    const stop = asUser(['kill', '-STOP', String(pid)]);
    expect(stop.status).not.toBe(0);
    expect(stop.stderr).toMatch(/not permitted/i);
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).not.toMatch(/^\d+ \(.*\) T/);
    runClient(lab, lab.runner, [`${outside4}:443`, `${database4}:5432`]);
    // A program of the job's user that left the job's process tree (adopted by init) is still the job's (scope: job).
    const hold = `const s = require('net').connect(8080, '${outside4}'); s.on('error', () => {}); setTimeout(() => s.destroy(), 1500);`;
    asUser(['sh', '-c', `${process.execPath} -e "${hold}" >/dev/null 2>&1 &`]);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report).toMatchObject({ tampered: false, complete: true, 'sudo-disabled': false, scope: 'job' });
    expect(report.violations.map((item) => item.port).sort()).toEqual([443, 8080]);
    expect(report['outside-job']).toEqual([]);
  });

  test('disable-sudo and disable-containers: no sudo and no Docker socket for the job user while it watches, both back after', async () => {
    const socketBefore = socket ? statSync(dockerSocket) : undefined;
    const run = job({
      'allowed-endpoints': `${database4}:5432`,
      mode: 'block',
      'disable-sudo': 'true',
      'disable-containers': 'true',
    });
    await run.start();
    // A later step: sudo is gone, so every root-only way past the sentinel is closed.
    expect(canSudo()).toBe(false);
    expect(asUser(['sudo', '-n', 'nft', 'flush', 'ruleset']).status).not.toBe(0);
    expect(asUser(['kill', '-STOP', String(run.monitorPid())]).status).not.toBe(0);
    if (socket) expect(canUseDocker()).toBe(false);
    expect(runClient(lab, lab.runner, [`${outside4}:443`])[0]!.code).toBe('ECONNREFUSED');
    // The stop step, as the job's user without sudo: an interim report; the monitor, its rules and the lockdown stay.
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.exitCode).toBe(1);
    expect(run.report()).toMatchObject({
      tampered: false,
      complete: true,
      'sudo-disabled': true,
      violations: [expect.objectContaining({ address: outside4, port: 443, blocked: true })],
    });
    expect(canSudo()).toBe(false);
    // The post step (the stop secret from the runner's saved state): the root monitor removes its rules and gives
    // sudo and the socket back.
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report).toMatchObject({
      tampered: false,
      complete: true,
      'sudo-disabled': true,
      'containers-disabled': socket ? [dockerSocket] : [],
      violations: [expect.objectContaining({ address: outside4, port: 443, blocked: true })],
    });
    expect(canSudo()).toBe(true);
    expect(readFileSync(sudoers, 'utf8')).toBe(sudoersText);
    expect(existsSync('/etc/sudoers.d/zzzz-deploy-gates-egress')).toBe(false);
    expect(lab.exec(lab.runner, ['nft', 'list', 'tables'])).not.toContain('deploy_gates_egress');
    if (socket && socketBefore) {
      const after = statSync(dockerSocket);
      expect([after.uid, after.gid, after.mode]).toEqual([socketBefore.uid, socketBefore.gid, socketBefore.mode]);
      expect(canUseDocker()).toBe(true);
    }
  });

  test('a step of the job user cannot stop the monitor: forged stop requests are refused and reported; only the post step stops it', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block', 'disable-sudo': 'true' });
    await run.start();
    const pid = run.monitorPid();
    const { dir, snapshotPath } = run.saved();
    const secret = run.secret();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    // The secret is nowhere a later step could read it: no process's command line, no file of the job's directories
    // (but the runner's own state file of the main step, which the runner deletes before the next step starts).
    expect(processesWhere((line) => line.includes(secret))).toEqual([]);
    const grep = spawnSync('grep', ['-rl', '--exclude=*-state', secret, run.dir], { encoding: 'utf8' });
    expect(grep.stdout).toBe('');
    expect(readFileSync(snapshotPath!, 'utf8')).not.toContain(secret);
    // Later steps as the job's user: an empty stop request, then one with a made-up token, then a symbolic link.
    const forge = (command: string) => expect(asUser(['sh', '-c', command]).status).toBe(0);
    forge(`: > ${dir}/stop-request`);
    await wait(1_500);
    forge(`printf %s ${'f'.repeat(64)} > ${dir}/stop-request`);
    await wait(1_500);
    forge(`ln -s /etc/shadow ${dir}/stop-request`);
    await wait(1_500);
    // The monitor watches on: still running, still blocking, the job's user still without sudo.
    expect(isRunning(pid)).toBe(true);
    expect(JSON.parse(readFileSync(snapshotPath!, 'utf8'))).toMatchObject({ stopped: false });
    expect(runClient(lab, lab.runner, [`${outside4}:443`])[0]!.code).toBe('ECONNREFUSED');
    expect(canSudo()).toBe(false);
    // The post step holds the secret: it stops the monitor cleanly, and the report names each refused request.
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    // Only in the masking command, which the runner consumes (it never shows it) and masks the secret by.
    expect(post.log.replace(/^::add-mask::.*$/gm, '')).not.toContain(secret);
    const report = run.report();
    expect(report.tampered).toBe(true);
    const refused = report.tampering.filter((line) => /stop request without the valid secret was refused/.test(line));
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(report.violations).toEqual([expect.objectContaining({ address: outside4, port: 443, blocked: true })]);
    expect(JSON.stringify(report)).not.toContain(secret);
    expect(isRunning(pid)).toBe(false);
    expect(canSudo()).toBe(true);
    expect(lab.exec(lab.runner, ['nft', 'list', 'tables'])).not.toContain('deploy_gates_egress');
  });

  test('a directory, FIFO or link named like a request cannot end the root monitor: refused and reported, sudo stays denied, the post step stops it', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, 'disable-sudo': 'true' });
    await run.start();
    const pid = run.monitorPid();
    const { dir } = run.saved();
    const [checkpoint, seal] = [`checkpoint-${'a'.repeat(32)}-request`, `seal-${'c'.repeat(64)}-request`];
    const forge = (command: string) => expect(asUser(['sh', '-c', command]).stderr).toBe('');
    // A later step as the job's user (no sudo): every kind of entry the monitor does not expect, under request names.
    forge(`cd ${dir} && mkdir stop-request ${checkpoint} && mkfifo checkpoint-${'b'.repeat(32)}-request`);
    forge(
      `cd ${dir} && mkdir full && touch full/x && mv full ${seal} && ln -s /etc/shadow checkpoint-${'d'.repeat(32)}-request`,
    );
    await wait(1_500);
    expect(isRunning(pid)).toBe(true);
    expect(canSudo()).toBe(false);
    runClient(lab, lab.runner, [`${outside4}:443`]);
    // Once more, right before the post step: a directory where its stop request goes.
    forge(`mkdir ${dir}/stop-request`);
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report.violations).toEqual([expect.objectContaining({ address: outside4, port: 443 })]);
    expect(report.tampered).toBe(true);
    const tampering = report.tampering.join('\n');
    expect(tampering).toMatch(/stop request without the valid secret was refused \(a directory, not a regular file/);
    expect(tampering).toContain(`a request (${checkpoint}) that is a directory, not a regular file, was refused`);
    expect(tampering).toMatch(/a request \(checkpoint-b+-request\) that is a FIFO/);
    expect(tampering).toMatch(/a request \(checkpoint-d+-request\) that is a symbolic link/);
    expect(tampering).toContain(`a request (${seal}) that is a directory`);
    expect(report.checkpoints).toEqual([]);
    expect(isRunning(pid)).toBe(false);
    expect(canSudo()).toBe(true);
    expect(lab.exec(lab.runner, ['nft', 'list', 'tables'])).not.toContain('deploy_gates_egress');
  });

  test('a stop step does not judge by a state file a later step rewrote (0.0.0.0/0 added to the allow-list): it fails, naming it, and so does the post step', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, 'disable-sudo': 'true' });
    await run.start();
    runClient(lab, lab.runner, [`${outside4}:443`]);
    const current = join(run.runnerTemp, 'deploy-gates', 'egress-sentinel-current.json');
    const state = JSON.parse(readFileSync(current, 'utf8')) as { config: { entries: unknown[] } };
    state.config.entries.push({ kind: 'network', text: '0.0.0.0/0', address: '0.0.0.0', prefix: 0, family: 4 });
    const forged = join(run.dir, 'forged.json');
    writeFileSync(forged, JSON.stringify(state), { mode: 0o644 });
    // Rewritten by the job's user (its own file), pid, directories and record path unchanged.
    expect(asUser(['cp', forged, current]).status).toBe(0);
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.exitCode).toBe(1);
    expect(stopped.outputs.tampered).toBe('true');
    expect(stopped.log).toContain('it was rewritten by a later step');
    expect(run.report().tampered).toBe(true);
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report.violations).toEqual([expect.objectContaining({ address: outside4, port: 443 })]);
    expect(report.tampering.join('\n')).toContain('was rewritten by a step after main left it');
  });

  test('a stop step pointed at a decoy (the state in the run temp directory rewritten by a step) fails, naming it', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const current = join(run.runnerTemp, 'deploy-gates', 'egress-sentinel-current.json');
    const real = readFileSync(current, 'utf8');
    const state = JSON.parse(real) as { privilege?: string[]; snapshotPath: string; pid: number };
    expect(state.privilege).toEqual(['sudo', '-n']);
    // A clean record of the step's own making, beside the state (the job's user can write both).
    const decoy = join(run.dir, 'decoy-snapshot.json');
    writeFileSync(decoy, JSON.stringify({ pid: state.pid, ready: true, stopped: false, destinations: [] }));
    writeFileSync(current, JSON.stringify({ ...state, snapshotPath: decoy }));
    const pointed = await run.step({ stop: 'true' }).main();
    expect(pointed.exitCode).toBe(1);
    expect(pointed.log).toContain("is not the root monitor's");
    // The same decoy claiming a monitor without root: a root monitor runs, so that is refused too.
    writeFileSync(current, JSON.stringify({ ...state, snapshotPath: decoy, privilege: undefined }));
    const unprivileged = await run.step({ stop: 'true' }).main();
    expect(unprivileged.exitCode).toBe(1);
    expect(unprivileged.log).toContain('names a monitor without root, but a root monitor runs');
    // The real state: the stop step reports, and the post step (its state from the runner) is not fooled either way.
    writeFileSync(current, real);
    expect(await run.step({ stop: 'true' }).main()).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    expect(await run.post()).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
  });

  test('disable-sudo on a job that runs as root, or disable-containers alone, is refused naming the input', async () => {
    const asRoot = new Job(lab.runner, { 'allowed-endpoints': `${database4}:5432`, 'disable-sudo': 'true' });
    jobs.push(asRoot);
    const refused = await asRoot.main();
    expect(refused.exitCode).toBe(1);
    expect(refused.log).toContain('Input "disable-sudo": this step runs as root');
    const alone = job({ 'allowed-endpoints': `${database4}:5432`, 'disable-containers': 'true' });
    const main = await alone.main();
    expect(main.exitCode).toBe(1);
    expect(main.log).toContain('Input "disable-containers": true needs disable-sudo: true');
    expect(canSudo()).toBe(true);
  });
});
