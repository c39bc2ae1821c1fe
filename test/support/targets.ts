import { LocalTarget } from '../../packages/core/src/target/local.js';
import type { Target } from '../../packages/core/src/target/target.js';

/**
 * The targets every target-facing test runs against. Each entry starts its target (and any server it
 * needs) in `setup` and stops it in `teardown`. The ssh entry (a real sshd on loopback) is added by the
 * target work; tests use `describe.each(targetKinds)` so they cover every kind listed here.
 */
export interface TargetKind {
  name: string;
  setup(): Promise<Target>;
  teardown(): Promise<void>;
}

export const targetKinds: TargetKind[] = [
  {
    name: 'local',
    setup: async () => new LocalTarget(),
    teardown: async () => {},
  },
];
