/**
 * Jest runs the TypeScript sources as native ESM (the @actions/* packages are ESM-only):
 * ts-jest transpiles each file with `useESM`, and jest runs under --experimental-vm-modules (see package.json).
 * ts-jest does not type-check in this mode (isolatedModules), so `npm test` runs `tsc --noEmit` first.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // #core/*, #action-kit/*, #cli/* are package.json "imports"; `.js` specifiers name the `.ts` sources.
  moduleNameMapper: {
    '^#(core|action-kit|cli)/(.*)\\.js$': '<rootDir>/packages/$1/src/$2',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true }],
    // @actions/workflow-parser imports its JSON schemas without the `with { type: 'json' }` attribute Node requires.
    '/node_modules/@actions/workflow-parser/dist/.+\\.js$': '<rootDir>/test/support/json-import-attributes.cjs',
  },
  transformIgnorePatterns: ['/node_modules/(?!@actions/workflow-parser/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60_000,
  // test/repo/dist-fresh.test.ts compares dist/ with a build that starts with the run and runs alongside the
  // other test files (globalSetup); the sequencer runs that test last, so it waits for the build only at the end.
  globalSetup: '<rootDir>/test/support/dist-build.mjs',
  globalTeardown: '<rootDir>/test/support/dist-build-teardown.mjs',
  testSequencer: '<rootDir>/test/support/sequencer.cjs',
  reporters: ['default', '<rootDir>/test/support/closing-line-reporter.cjs'],
};
