import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { defineAction } from '#action-kit/index.js';
import { POLL_INTERVAL_MS, renderStart, sealState, startSentinel, TITLE } from '#core/egress/index.js';
import { egressSentinelInputs, toConfig } from './inputs.js';
import { monitorEntry } from './monitor-entry.js';
import { ROLE, SECRET, sentinelTempDir, STATE, TOKEN } from './names.js';
import { currentStatePath, postStep, reportPath, stopStep } from './phases.js';

const tempDir = (context: { tempDir: string }) => sentinelTempDir(context.tempDir);

export const action = defineAction({
  name: 'egress-sentinel',
  stage: 'egress',
  inputs: egressSentinelInputs,
  outputs: z.object({ violations: z.string().regex(/^\d+$/), tampered: z.enum(['true', 'false']) }).partial(),
  async main(inputs, context) {
    const options = {
      reportPath: reportPath(inputs['report-path'], context.workspace),
      failOnViolation: inputs['fail-on-violation'],
    };
    if (inputs.stop) {
      // This use of the action only stops; its own post step then has nothing to do.
      context.state.save(ROLE, 'stop');
      return stopStep(tempDir(context), options, context.logger);
    }
    const config = toConfig(inputs);
    const launch = { entryScript: monitorEntry(), tempDir: tempDir(context) };
    const { state, secret, token } = await startSentinel(config, launch);
    context.mask(secret);
    context.mask(token);
    context.state.save(SECRET, secret);
    context.state.save(TOKEN, token);
    context.state.save(STATE, JSON.stringify(state));
    const text = JSON.stringify(state);
    writeFileSync(currentStatePath(tempDir(context)), text, { mode: 0o600 });
    // A later step can rewrite that file: the root monitor keeps its digest, which a stop step checks it against.
    await sealState(state, text);
    if (state.methodNote)
      context.logger.warning(
        `egress-sentinel polls /proc/net (${state.methodNote}): connections shorter than ${POLL_INTERVAL_MS}ms can be missed`,
      );
    return renderStart(config, state);
  },
  async post(inputs, context) {
    if (context.state.get(ROLE) === 'stop')
      return {
        title: TITLE,
        results: [{ name: 'Monitor', status: 'skip', detail: 'stopped by this step (stop: true)', durationMs: 0 }],
        keepsEarlierReport: true,
      };
    // The post step ends the sentinel this very step started (its own saved state), whatever a later step wrote.
    const saved = { state: context.state.get(STATE), secret: context.state.get(SECRET) };
    context.mask(saved.secret);
    return postStep(saved, tempDir(context), {
      reportPath: reportPath(inputs['report-path'], context.workspace),
      failOnViolation: inputs['fail-on-violation'],
    });
  },
});

export const run = action.run;
