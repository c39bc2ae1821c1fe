import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '#core/hosts/local.js';
import { parseServices } from '#core/rollout/services.js';
import { rolloutServices, type ServiceSpec } from '#core/rollout/run.js';
import type { TestServer } from '../support/http-server.js';
import { healthConfig } from '../support/health.js';
import { makeReleases, releaseName, startServicesHealth } from '../support/release-tree.js';

const [OLD, NEW] = [1, 2].map(releaseName) as [string, string];

describe('release-services: shared per service', () => {
  it('reads shared and shared-replace per service, and tells a bad path with its line and service', async () => {
    const parsed = await parseServices(
      [
        '- name: api',
        '  releases-root: /srv/api',
        '  health-urls: http://127.0.0.1/health',
        '  shared: [.env, storage/]',
        '  shared-replace: true',
        '- name: worker',
        '  releases-root: /srv/worker',
        '  health-urls: http://127.0.0.1/health',
        '  shared: |',
        '    ../secrets',
      ].join('\n'),
    );
    expect(parsed).toEqual({
      problems: [
        'line 9: service 2 (worker): shared "../secrets" has an empty, "." or ".." part; write a plain path inside the release, e.g. .env or storage/ (a trailing "/" means a directory)',
      ],
    });
    const ok = await parseServices(
      '- name: api\n  releases-root: /srv/api\n  health-urls: http://127.0.0.1/h\n  shared: [.env, storage/]\n  shared-replace: true',
    );
    expect('value' in ok && ok.value[0]!.shared).toEqual({
      entries: [
        { path: '.env', directory: false },
        { path: 'storage', directory: true },
      ],
      replace: true,
    });
  });

  describe('a rollout', () => {
    let work: string;
    let server: TestServer;
    const root = (name: string) => join(work, name);
    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), `dg-shared-services-${process.pid}-`));
      server = await startServicesHealth(root, 500);
    });
    afterAll(async () => {
      await server.close();
      await rm(work, { recursive: true, force: true });
    });

    it('links each service its own shared entries; a missing one stops the rollout before that service switches', async () => {
      const target = new LocalTarget();
      const specs: ServiceSpec[] = [];
      for (const name of ['api', 'worker']) {
        await makeReleases(root(name), [OLD, NEW]);
        for (const release of [OLD, NEW]) await writeFile(join(root(name), 'releases', release, 'health'), 'ok');
        await target.run(`cd '${root(name)}' && ln -s releases/${OLD} current`);
        specs.push({
          name,
          target,
          releasesRoot: root(name),
          release: NEW,
          health: healthConfig([`${server.url}/${name}/health`], { attempts: 1, intervalMs: 20 }),
          beforeSwitch: ['test -f .env'],
          afterSwitch: [],
          beforeRollback: [],
          shared: { entries: [{ path: '.env', directory: false }], replace: false },
        });
      }
      await mkdir(join(root('api'), 'shared'));
      await writeFile(join(root('api'), 'shared/.env'), 'A=1\n');
      const outcome = await rolloutServices({ services: specs, keep: 5 });
      expect(outcome.ok).toBe(false);
      expect(outcome.services.map((s) => [s.name, s.state])).toEqual([
        ['api', 'rolled-back'],
        ['worker', 'failed'],
      ]);
      expect(readlinkSync(join(root('api'), 'releases', NEW, '.env'))).toBe('../../shared/.env');
      expect(readlinkSync(join(root('worker'), 'current'))).toBe(`releases/${OLD}`);
      expect(existsSync(join(root('worker'), 'releases', NEW, '.env'))).toBe(false);
      expect(outcome.services[1]!.failure).toContain(
        `shared entry .env: ${join(root('worker'), 'shared/.env')} does not exist on local; create it`,
      );
    });
  });
});
