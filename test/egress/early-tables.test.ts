import { spawnSync } from 'node:child_process';
import { REMOVE_SCRIPT } from '#core/egress/tables.js';
import { createLab, labUnavailable, type Lab } from '../support/netns.js';
import { Job } from './job.js';

// The first tables are installed by egress-sentinel's entry while the action's code loads (core/egress/
// early-tables.ts), before the inputs are checked. Whatever happens next, they must be this run's and only this
// run's: taken over when the start succeeds, removed when it fails, never someone else's removed or kept.
const unavailable = labUnavailable();
const describeLab = unavailable ? describe.skip : describe;

describeLab('egress-sentinel first tables, installed before the inputs are read', () => {
  let lab: Lab;
  const jobs: Job[] = [];
  const job = (inputs: Record<string, string>) => {
    const created = new Job(lab.runner, inputs);
    jobs.push(created);
    return created;
  };
  const nft = (args: string[], input?: string) =>
    spawnSync('ip', ['netns', 'exec', lab.runner, 'nft', ...args], { encoding: 'utf8', input });
  const table = () => nft(['list', 'table', 'inet', 'deploy_gates_egress']);
  const allowed = { 'allowed-endpoints': '198.18.1.2:5432' };

  beforeAll(() => {
    lab = createLab('t');
  });
  afterAll(() => {
    for (const created of jobs) created.cleanup();
    lab?.destroy();
  });
  // Each test starts from a namespace without the sentinel's tables.
  afterEach(() => void nft(['-f', '-'], `${REMOVE_SCRIPT}`));

  test('a check that fails after they were in (disable-sudo as root) removes them, and the monitor ends', async () => {
    const refused = job({ ...allowed, 'disable-sudo': 'true' });
    const main = await refused.main();
    expect(main.exitCode).toBe(1);
    expect(main.log).toMatch(/Input "disable-sudo": this step runs as root/);
    expect(table().status).not.toBe(0);
    expect(nft(['list', 'table', 'netdev', 'deploy_gates_egress_raw']).status).not.toBe(0);
  });

  test("a second sentinel of the same job whose start fails leaves the first one's tables and monitor alone", async () => {
    const first = job(allowed);
    await first.start();
    const marker = first.saved() as { marker?: string };
    expect(table().stdout).toContain(`deploy-gates egress-sentinel ${marker.marker}`);
    const second = await first.step({ ...allowed, 'disable-sudo': 'true' }).main();
    expect(second.exitCode).toBe(1);
    // Its entry found the first sentinel's tables there (`create` failed): nothing of them was its to remove.
    expect(table().stdout).toContain(`deploy-gates egress-sentinel ${marker.marker}`);
    const post = await first.post();
    expect(post).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    expect(first.report()).toMatchObject({ tampered: false, violations: [] });
    expect(table().status).not.toBe(0);
  });

  test('tables a crashed job left behind are replaced in one transaction, not kept or merged', async () => {
    const stale = nft(
      ['-f', '-'],
      [
        'table inet deploy_gates_egress {',
        '  comment "deploy-gates egress-sentinel 0000000000000000"',
        '  chain output {',
        '    type filter hook output priority filter; policy accept;',
        '    ip daddr 198.18.2.2 accept',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    expect(stale.status).toBe(0);
    const run = job(allowed);
    await run.start();
    const listing = table().stdout;
    const { marker } = run.saved() as { marker?: string };
    expect(listing).toContain(`deploy-gates egress-sentinel ${marker}`);
    expect(listing).not.toContain('0000000000000000');
    expect(listing).not.toContain('198.18.2.2');
    const post = await run.post();
    expect(post).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    expect(run.report()).toMatchObject({ tampered: false });
    expect(table().status).not.toBe(0);
  });
});
