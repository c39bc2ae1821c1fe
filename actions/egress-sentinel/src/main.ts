import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAction } from '#action-kit/index.js';
import { POLL_INTERVAL_MS, startSentinel } from '#core/egress/index.js';
import { egressSentinelInputs, toConfig } from './inputs.js';
import { currentStatePath, monitorEntry, postStep, reportPath, stopStep, TITLE } from './phases.js';

const STATE = 'egress-sentinel';
/** The stop secret: saved for the post step only (the runner keeps it; later steps cannot read it), masked. */
const SECRET = 'egress-sentinel-secret';
const ROLE = 'egress-sentinel-role';
const tempDir = (context: { tempDir: string }) => join(context.tempDir, 'deploy-gates');

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
    const { state, secret } = await startSentinel(config, { entryScript: monitorEntry(), tempDir: tempDir(context) });
    context.mask(secret);
    context.state.save(SECRET, secret);
    context.state.save(STATE, JSON.stringify(state));
    writeFileSync(currentStatePath(tempDir(context)), JSON.stringify(state), { mode: 0o600 });
    if (state.methodNote)
      context.logger.warning(
        `egress-sentinel polls /proc/net (${state.methodNote}): connections shorter than ${POLL_INTERVAL_MS}ms can be missed`,
      );
    return {
      title: TITLE,
      results: [
        {
          name: 'Monitor',
          status: 'pass',
          detail: `started (pid ${state.pid}), ${state.method}${state.ruleset !== undefined ? `, rules installed (${config.mode})` : ''}`,
          durationMs: 0,
        },
      ],
      facts: [
        ['Mode', config.mode],
        ['Allowed', config.entries.map((entry) => entry.text).join(', ')],
        ['Raw frames', state.rawNote],
        ['Scope', state.scopeNote ? `${state.scope} (${state.scopeNote})` : state.scope],
        [
          'Sudo',
          state.lockdown
            ? `taken from the job's user until the sentinel stops${state.lockdown.sockets.length ? `; closed: ${state.lockdown.sockets.join(', ')}` : ''}`
            : config.disableSudo
              ? "disable-sudo: the job's user has no passwordless sudo to take away"
              : 'left to the job (disable-sudo: false)',
        ],
      ],
      verdict: `watching every new connection until a step with stop: true, or the post step (${state.method})`,
    };
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
    return postStep(saved, {
      reportPath: reportPath(inputs['report-path'], context.workspace),
      failOnViolation: inputs['fail-on-violation'],
    });
  },
});

export const run = action.run;
