import * as core from '#action-kit/runner.js';
import { z } from 'zod';
import {
  defaultReportPath,
  maskMultilineSecret,
  outputValue,
  readInputs,
  runAction,
  runnerLogger,
  writeOutputs,
  writeSummary,
} from '#action-kit/index.js';
import { Redactor } from '#core/redact.js';
import { writeJsonReport } from '#core/report/json.js';
import { switchRelease, type SwitchConfig, type SwitchOutcome } from '#core/release/switch.js';
import { openTarget, targetSpec } from '#core/hosts/inputs.js';
import { releaseSwitchInputs, type ReleaseSwitchInputs } from './inputs.js';

const outputsSchema = z.object({
  'current-release': outputValue().optional(),
  'previous-release': outputValue().optional(),
  switched: z.enum(['true', 'false']),
  'rolled-back': z.enum(['true', 'false']),
  report: outputValue(),
});

function toConfig(inputs: ReleaseSwitchInputs): SwitchConfig {
  return {
    releasesRoot: inputs['releases-root'],
    release: inputs.release,
    mode: inputs.mode,
    keep: inputs.keep,
    beforeSwitch: inputs['before-switch'],
    afterSwitch: inputs['after-switch'],
    rollbackOnFailure: inputs['rollback-on-failure'],
    hookTimeoutMs: inputs['hook-timeout'],
  };
}

function reportDocument(outcome: SwitchOutcome, config: SwitchConfig, target: string) {
  return {
    action: 'release-switch',
    ok: outcome.ok,
    target,
    releasesRoot: config.releasesRoot,
    mode: config.mode,
    requested: config.release,
    currentRelease: outcome.currentRelease,
    previousRelease: outcome.previousRelease,
    switched: outcome.switched,
    rolledBack: outcome.rolledBack,
    pruned: outcome.pruned,
    failure: outcome.failure,
    settings: { keep: config.keep, rollbackOnFailure: config.rollbackOnFailure, beforeSwitch: config.beforeSwitch, afterSwitch: config.afterSwitch },
    results: outcome.results,
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const redactor = new Redactor();
    // Masked before anything is parsed or logged.
    maskMultilineSecret(redactor, core.getInput('ssh-key'));
    const inputs = readInputs(releaseSwitchInputs);
    const config = toConfig(inputs);
    const logger = runnerLogger('release-switch');
    const target = await openTarget(targetSpec(inputs.target, inputs['ssh-key'], inputs['known-hosts']));
    let outcome: SwitchOutcome;
    try {
      core.info(`release-switch ${config.mode} on ${target.description}: ${config.releasesRoot}${config.release ? ` → ${config.release}` : ''}`);
      outcome = await switchRelease(target, config, { logger, redactor });
    } finally {
      await target.close();
    }

    const reportPath = inputs['report-path'] ?? defaultReportPath('release-switch');
    await writeJsonReport(reportPath, reportDocument(outcome, config, target.description), redactor);
    await writeSummary(
      {
        title: config.mode === 'rollback' ? 'Release rollback' : 'Release switch',
        results: outcome.results,
        facts: [
          ['Target', target.description],
          ['Releases root', config.releasesRoot],
          ['Current release', outcome.currentRelease ?? '(none)'],
          ['Previous release', outcome.previousRelease ?? '(none)'],
          ['Switched', String(outcome.switched)],
          ['Rolled back', String(outcome.rolledBack)],
          ...(outcome.pruned.length > 0 ? [['Pruned', outcome.pruned.join(', ')] as const] : []),
          ['Report', reportPath],
        ],
      },
      redactor,
    );
    writeOutputs(
      outputsSchema,
      {
        'current-release': outcome.currentRelease,
        'previous-release': outcome.previousRelease,
        switched: String(outcome.switched),
        'rolled-back': String(outcome.rolledBack),
        report: reportPath,
      },
      redactor,
    );
    if (outcome.ok) {
      core.info(
        outcome.switched ? `current → releases/${outcome.currentRelease}${outcome.previousRelease ? ` (was ${outcome.previousRelease})` : ''}` : `current already at releases/${outcome.currentRelease}`,
      );
      return;
    }
    core.setFailed(redactor.redact(outcome.failure ?? 'release-switch failed'));
  });
}
