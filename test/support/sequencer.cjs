// Jest's own order (failed first, then slowest first, then largest file first), except that
// test/repo/dist-fresh.test.ts runs last: it waits for the build that globalSetup started (dist-build.mjs),
// so it should hold a worker only once the other test files are done.
const { join } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const last = join('test', 'repo', 'dist-fresh.test.ts');

class DistFreshLast extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    return [
      ...sorted.filter((test) => !test.path.endsWith(last)),
      ...sorted.filter((test) => test.path.endsWith(last)),
    ];
  }
}

module.exports = DistFreshLast;
