import * as core from '#action-kit/runner.js';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import {
  defaultReportPath,
  maskMultilineSecret,
  maskSecrets,
  outputValue,
  readInputs,
  runAction,
  runnerLogger,
  writeOutputs,
  writeSummary,
} from '#action-kit/index.js';
import { UserError } from '#core/errors.js';
import { Redactor } from '#core/redact.js';
import { writeJsonReport } from '#core/report/json.js';
import { formatDuration } from '#core/inputs/duration.js';
import { openTarget, targetSpec } from '#core/hosts/inputs.js';
import { isHomePath } from '#core/hosts/target.js';
import type { Gate } from '#core/gates/model.js';
import { presetGates } from '#core/gates/presets.js';
import { runGates } from '#core/gates/run.js';
import { preSwitchGatesInputs } from './inputs.js';

const outputsSchema = z.object({
  passed: outputValue(),
  failed: outputValue(),
  total: outputValue(),
  report: outputValue(),
});

/**
 * Values written after `secret:` in gate YAML, found before the YAML is parsed, so that not even a
 * parse error can show one. (The runner already masks `${{ secrets.… }}`; this covers everything else.)
 */
function inlineSecrets(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\bsecret\s*:[ \t]*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,}\n#]*)/g)) {
    const raw = match[1]!.trim();
    found.push(raw);
    if (/^["']/.test(raw)) found.push(raw.slice(1, -1));
  }
  return found;
}

function describeGate(gate: Gate): Record<string, unknown> {
  // The definition as data for the report, without the env-match secret.
  if (gate.kind === 'env-match') return { kind: gate.kind, name: gate.name, file: gate.file, key: gate.key, secret: 'set (masked)' };
  if (gate.kind === 'command') return { ...gate, expectOutput: gate.expectOutput?.source };
  return { ...gate };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const started = performance.now();
    const redactor = new Redactor();
    maskMultilineSecret(redactor, core.getInput('ssh-key'));
    maskSecrets(redactor, ...inlineSecrets(core.getInput('gates')));
    const inputs = readInputs(preSwitchGatesInputs);
    const spec = targetSpec(inputs.target, inputs['ssh-key'], inputs['known-hosts']);
    const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
    const env = (name: string) => process.env[name];

    const gates: Gate[] = presetGates(inputs.preset);
    // The YAML parser is loaded only when there is YAML to read: a preset alone starts faster.
    const parseGates = async (text: string, source: string) => (await import('#core/gates/spec.js')).parseGates(text, { source, env });
    if (inputs.gates.trim() !== '') gates.push(...(await parseGates(inputs.gates, 'Input "gates"')));
    const gatesFile = inputs['gates-file'];
    if (gatesFile) {
      const path = resolve(workspace, gatesFile);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new UserError(
          `Input "gates-file": cannot read ${gatesFile} (${code === 'ENOENT' ? `no such file in ${workspace}` : code ?? 'unreadable'}); ` +
            'give a path relative to the repository root and check out the repository before this step',
        );
      }
      maskSecrets(redactor, ...inlineSecrets(text));
      gates.push(...(await parseGates(text, `Input "gates-file" (${gatesFile})`)));
    }
    for (const gate of gates) if (gate.kind === 'env-match') maskSecrets(redactor, gate.secret);
    if (gates.length === 0) {
      throw new UserError('No gates to run: set "preset" (laravel, node or python), "gates" (a YAML list) or "gates-file"');
    }

    // A relative release-dir is the workspace's on this machine (layer 1), the login directory's on an ssh host;
    // `~` and `~/…` are the target user's home on both targets.
    const releaseDir = spec.kind === 'local' && !isHomePath(inputs['release-dir']) && !isAbsolute(inputs['release-dir']) ? resolve(workspace, inputs['release-dir']) : inputs['release-dir'];
    const title = `Pre-switch gates (${inputs.layer})`;
    const logger = runnerLogger('pre-switch-gates');
    const target = await openTarget(spec);
    let outcome;
    try {
      outcome = await runGates(target, releaseDir, gates, { timeoutMs: inputs.timeout, logger });
    } finally {
      await target.close();
    }
    const durationMs = performance.now() - started;

    const reportPath = inputs['report-path'] ?? defaultReportPath('pre-switch-gates');
    await writeJsonReport(
      reportPath,
      {
        action: 'pre-switch-gates',
        layer: inputs.layer,
        target: target.description,
        releaseDir: outcome.releaseDir,
        preset: inputs.preset,
        passed: outcome.passed,
        failed: outcome.failed,
        total: outcome.total,
        durationMs,
        gates: gates.map(describeGate),
        results: outcome.results,
      },
      redactor,
    );
    await writeSummary(
      {
        title,
        itemLabel: 'Gate',
        results: outcome.results,
        facts: [
          ['Layer', inputs.layer],
          ['Target', target.description],
          ['Release', outcome.releaseDir],
          ['Duration', formatDuration(durationMs)],
          ['Report', reportPath],
        ],
      },
      redactor,
    );
    writeOutputs(
      outputsSchema,
      { passed: String(outcome.passed), failed: String(outcome.failed), total: String(outcome.total), report: reportPath },
      redactor,
    );

    if (outcome.failed === 0) {
      core.info(`${title}: ${outcome.passed}/${outcome.total} PASSED`);
      return;
    }
    for (const result of outcome.results.filter((r) => r.status === 'fail')) logger.error(`${result.name}: ${result.detail}`);
    throw new UserError(
      `${title}: FAILED (${outcome.failed} of ${outcome.total} gates failed). Nothing was changed on ${target.description}; do not switch to this release — fix it and deploy again.`,
    );
  });
}
