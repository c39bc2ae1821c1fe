/**
 * `npm run test:unit`: the tests that need no root, no sshd, no network namespace and no dist/ build — the domain
 * logic, the envelope, the ledger, the GitHub double, the repository's contracts — for a quick check of a change.
 * `npm test` runs them too, with everything else. A test file belongs here when it starts nothing but loopback
 * servers and processes of its own; one that runs a bundle (`*-bundle`/`*.bundle` tests, run-bundle.ts), a Target
 * over ssh (support/targets.ts, support/sshd.ts), a namespace (support/netns.ts) or the demo does not.
 */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: [
    '<rootDir>/test/unit/**/*.test.ts',
    '<rootDir>/test/action-kit/{envelope,adapters,runner-protocol}.test.ts',
    '<rootDir>/test/build-run/resolve-build-run.test.ts',
    '<rootDir>/test/egress/allow.test.ts',
    '<rootDir>/test/release/lock-race.test.ts',
    '<rootDir>/test/gates/gates-spec.test.ts',
    '<rootDir>/test/github-double/*.test.ts',
    '<rootDir>/test/health/health-check.test.ts',
    '<rootDir>/test/ledger/ledger.test.ts',
    '<rootDir>/test/protection/{audit,parts}.test.ts',
    '<rootDir>/test/repo/{action-contract,action-docs-fresh,install,lint-guardrails,workflows}.test.ts',
  ],
  // No dist/ build alongside (test/repo/dist-fresh.test.ts is not a unit test).
  globalSetup: undefined,
  globalTeardown: undefined,
};
