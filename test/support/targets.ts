import { LocalTarget } from '#core/hosts/local.js';
import { SshTarget } from '#core/hosts/ssh.js';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '#core/hosts/target.js';
import { startSshd, type Sshd } from './sshd.js';

/**
 * The targets every target-facing test runs against. Each entry starts its target (and any server it
 * needs) in `setup` and stops it in `teardown`. Tests use `describe.each(targetKinds)` so they cover
 * every kind listed here: this machine, and a real sshd on loopback reached with the OpenSSH client.
 * For ssh, `sshd` holds the running server (its address, client key and pinned host key) after setup.
 */
export interface TargetKind {
  name: string;
  setup(): Promise<Target>;
  teardown(): Promise<void>;
  /** The running server, for the ssh kind (set by setup). */
  sshd?: Sshd;
}

function sshKind(): TargetKind {
  let target: Target | undefined;
  const kind: TargetKind = {
    name: 'ssh',
    setup: async () => {
      kind.sshd = await startSshd();
      const { user, port, privateKey, knownHosts } = kind.sshd;
      target = await SshTarget.open({ user, host: '127.0.0.1', port, privateKey, knownHosts });
      return target;
    },
    teardown: async () => {
      await target?.close();
      await kind.sshd?.stop();
      target = undefined;
      kind.sshd = undefined;
    },
  };
  return kind;
}

export const targetKinds: TargetKind[] = [
  {
    name: 'local',
    setup: async () => new LocalTarget(),
    teardown: async () => {},
  },
  sshKind(),
];

/**
 * This machine as a host without `flock` (BusyBox or macOS hosts): scripts run with a PATH of links to every program
 * in /usr/bin and /usr/sbin but flock, so the deploy lock falls back to its lock directory alone.
 */
export function localWithoutFlockKind(): TargetKind {
  let bin: string | undefined;
  return {
    name: 'local without flock',
    setup: async () => {
      bin = mkdtempSync(join(tmpdir(), 'no-flock-bin-'));
      for (const dir of ['/usr/sbin', '/usr/bin']) {
        for (const name of readdirSync(dir))
          if (name !== 'flock')
            try {
              symlinkSync(join(dir, name), join(bin, name));
            } catch {
              /* the /usr/bin one wins */
            }
      }
      const local = new LocalTarget();
      return {
        description: local.description,
        run: (script, options) => local.run(`PATH=${bin}; export PATH\n${script}`, options),
        close: () => local.close(),
      };
    },
    teardown: async () => {
      if (bin) rmSync(bin, { recursive: true, force: true });
    },
  };
}
