import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, targetSpec, withTarget } from '#action-kit/target.js';
import { describeGate, inlineSecrets, loadGates, runGates } from '#core/gates/index.js';
import { describeAddress, isHomePath } from '#core/hosts/index.js';
import { formatDuration } from '#core/units/index.js';
import { preSwitchGatesInputs } from './inputs.js';

export const action = defineAction({
  name: 'pre-switch-gates',
  stage: 'gates',
  inputs: preSwitchGatesInputs,
  secrets: { ...targetSecrets, gates: inlineSecrets },
  argumentInputs: { releaseDir: 'release-dir', gatesFile: 'gates-file' },
  outputs: () => z.object({ passed: outputValue(), failed: outputValue(), total: outputValue() }),
  async main(inputs, context) {
    const started = performance.now();
    targetSpec(inputs.target, inputs); // a target without its key fails before any gate YAML is read
    const gates = await loadGates(
      { preset: inputs.preset, gates: inputs.gates, gatesFile: inputs['gates-file'] },
      {
        workspace: context.workspace,
        mask: context.mask,
        env: context.env,
        label: { gates: 'Input "gates"', gatesFile: (file) => `Input "gates-file" (${file})` },
      },
    );
    // A relative release-dir is the workspace's on this machine (layer 1), the login directory's on an ssh host;
    // `~` and `~/…` are the target user's home on both targets.
    const dir = inputs['release-dir'];
    const local = inputs.target.kind === 'local';
    const releaseDir = local && !isHomePath(dir) && !isAbsolute(dir) ? resolve(context.workspace, dir) : dir;
    const outcome = await withTarget(
      inputs,
      (target) => runGates(target, releaseDir, gates, { timeoutMs: inputs.timeout }, context),
      { tempDir: context.tempDir },
    );
    const target = { description: describeAddress(inputs.target) };
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
