import { LocalTarget } from '#core/hosts/local.js';
import { SshTarget } from '#core/hosts/ssh.js';
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
