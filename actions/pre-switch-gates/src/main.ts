import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { formatDuration } from '#core/inputs/duration.js';
import { openTarget, targetSpec } from '#core/hosts/inputs.js';
import { isHomePath } from '#core/hosts/target.js';
import { runGates } from '#core/gates/run.js';
import { describeGate, inlineSecrets, loadGates } from './gates.js';
import { preSwitchGatesInputs } from './inputs.js';

export const action = defineAction({
  name: 'pre-switch-gates',
  stage: 'gates',
  inputs: preSwitchGatesInputs,
  secrets: { 'ssh-key': 'multiline', gates: inlineSecrets },
  argumentInputs: { releaseDir: 'release-dir' },
  outputs: z.object({ passed: outputValue(), failed: outputValue(), total: outputValue() }),
  async main(inputs, context) {
    const started = performance.now();
    const spec = targetSpec(inputs.target, inputs['ssh-key'], inputs['known-hosts']);
    const gates = await loadGates(inputs, context.workspace, context.mask);
    // A relative release-dir is the workspace's on this machine (layer 1), the login directory's on an ssh host;
    // `~` and `~/…` are the target user's home on both targets.
    const dir = inputs['release-dir'];
    const releaseDir =
      spec.kind === 'local' && !isHomePath(dir) && !isAbsolute(dir) ? resolve(context.workspace, dir) : dir;
    const target = await openTarget(spec);
    let outcome;
    try {
      outcome = await runGates(target, releaseDir, gates, { timeoutMs: inputs.timeout }, context);
    } finally {
      await target.close();
    }
    const durationMs = performance.now() - started;
    const title = `Pre-switch gates (${inputs.layer})`;
    const { passed, failed, total } = outcome;
    return {
      title,
      itemLabel: 'Gate',
      results: outcome.results,
      facts: [
        ['Layer', inputs.layer],
        ['Target', target.description],
        ['Release', outcome.releaseDir],
        ['Duration', formatDuration(durationMs)],
        ['Round trips', String(outcome.roundTrips)],
      ],
      report: {
        details: {
          layer: inputs.layer,
          target: target.description,
          releaseDir: outcome.releaseDir,
          preset: inputs.preset,
          passed,
          failed,
          total,
          durationMs,
          roundTrips: outcome.roundTrips,
          gates: gates.map(describeGate),
        },
      },
      outputs: { passed: String(passed), failed: String(failed), total: String(total) },
      verdict: `${title}: ${passed}/${total} PASSED`,
      failure:
        failed === 0
          ? undefined
          : `${title}: FAILED (${failed} of ${total} gates failed). Nothing was changed on ${target.description}; do not switch to this release — fix it and deploy again.`,
    };
  },
});

export const run = action.run;
