import { spawnSync } from 'node:child_process';
import { createLab, labUnavailable, runClient, type Lab } from '../support/netns.js';
import { Job } from './job.js';

// scope: job — a connection whose process the kernel names and which is not the job's (not under the process that
// started the main step, not the job's non-root user) is left out of the violations and listed in `outside-job`;
// scope: machine counts it. The job's own connections count either way.
const unavailable = labUnavailable();
if (unavailable) console.warn(`\n\n!!! egress-sentinel scope tests SKIPPED: ${unavailable} !!!\n\n`);
const describeLab = unavailable ? describe.skip : describe;

const database4 = '198.18.1.2';
const outside4 = '198.18.2.2';
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab('egress-sentinel scope', () => {
  let lab: Lab;
  const jobs: Job[] = [];
  const job = (inputs: Record<string, string>) => {
    const created = new Job(lab.runner, inputs);
    jobs.push(created);
    return created;
  };
  /**
   * Another program on the machine (not started by the job: its parent is gone, it was adopted by init) that holds
   * a connection to the outside host for a second and a half.
   */
  const unrelatedProgram = async () => {
    const hold = `const s = require('net').connect(443, '${outside4}'); s.on('error', () => {}); setTimeout(() => s.destroy(), 1500);`;
    spawnSync('ip', ['netns', 'exec', lab.runner, 'sh', '-c', `${process.execPath} -e "${hold}" >/dev/null 2>&1 &`]);
    await wait(2_000);
  };

  beforeAll(async () => {
    lab = createLab('j');
    await lab.serve(lab.database, [5432], 5353);
    await lab.serve(lab.outside, [443, 8080], 5353);
  }, 60_000);
  // A stop step leaves the monitor running (only the post step can stop it): each test's job ends before the next.
  afterEach(async () => {
    for (const created of jobs) await created.finish();
  }, 60_000);
  afterAll(() => {
    for (const created of jobs) created.cleanup();
    lab?.destroy();
  });

  test('scope: job (the default) leaves out a program outside the job, says so, and still counts the job', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    await unrelatedProgram();
    runClient(lab, lab.runner, [`${outside4}:8080`]);
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report.scope).toBe('job');
    expect(report.violations).toEqual([expect.objectContaining({ address: outside4, port: 8080, protocol: 'tcp' })]);
    expect(report['outside-job']).toEqual([
      expect.objectContaining({ address: outside4, port: 443, count: 1, process: 'node', pid: expect.any(Number) }),
    ]);
    expect(post.summary).toMatch(/by processes outside the job not counted/);
  });

  test('scope: machine counts every connection in the namespace', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, scope: 'machine' });
    await run.start();
    await unrelatedProgram();
    runClient(lab, lab.runner, [`${outside4}:8080`]);
    expect((await run.post()).exitCode).toBe(1);
    const report = run.report();
    expect(report.scope).toBe('machine');
    expect(report['outside-job']).toBeUndefined();
    expect(report.violations.map((item) => item.port).sort()).toEqual([443, 8080]);
  });
});
