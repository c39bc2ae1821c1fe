import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActionContext, ActionResult } from '#action-kit/index.js';
import { UserError } from '#core/errors.js';
import { isMonitorAlive, stopSentinel, type SentinelState } from '#core/egress/index.js';

export type Outputs = { violations?: string; tampered?: string };
export const TITLE = 'Egress sentinel';

/** Where main leaves the running sentinel's state for a later `stop: true` step of the same job (RUNNER_TEMP). */
export const currentStatePath = (tempDir: string) => join(tempDir, 'egress-sentinel-current.json');
/** Written into the sentinel's directory by the step that stopped it: the post step then has nothing left to do. */
const stoppedMarker = (state: SentinelState) => join(state.dir, 'stopped-by-step.json');

/**
 * The file the monitor is started from: this bundle (dist/egress-sentinel/index.js), not `process.argv[1]` (under
 * @github/local-action that is local-action's own entry). Run from source, the built bundle beside it is used.
 */
export function monitorEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return here;
  const bundle = resolve(dirname(here), '../../../dist/egress-sentinel/index.js');
  if (existsSync(bundle)) return bundle;
  throw new UserError(
    `egress-sentinel cannot start its monitor from ${here} (a source file): build the bundle first (node scripts/build.mjs --only egress-sentinel), which it starts as the monitor`,
  );
}

export function reportPath(input: string, workspace: string): string {
  return isAbsolute(input) ? input : join(workspace, input);
}

/** Stops the sentinel and renders the report: the stop step's result, or the post step's when no stop step ran. */
export async function finish(
  state: SentinelState,
  options: { reportPath: string; failOnViolation: boolean },
): Promise<ActionResult<Outputs>> {
  const { report: document, results, rulesRemoved } = await stopSentinel(state);
  const count = document.violations.length;
  const failures = [
    ...(document.tampered ? [`tampering detected: ${document.tampering.join('; ')}`] : []),
    ...(!document.complete ? ['connections may have been missed (see incomplete in the report)'] : []),
    ...(!rulesRemoved ? ['the sentinel could not remove its nftables table inet deploy_gates_egress'] : []),
    ...(document.dns?.restored === false ? ['the sentinel could not restore /etc/resolv.conf (see dns.problems)'] : []),
    ...(count > 0 && options.failOnViolation ? [`${count} destination(s) outside the allow-list`] : []),
  ];
  writeFileSync(stoppedMarker(state), JSON.stringify({ report: options.reportPath, violations: count }));
  const allowed = document.allowed
    .filter((item) => item.by === undefined)
    .map((item) => (item.addresses ? `${item.entry} (${item.addresses.join(', ') || 'unresolved'})` : item.entry));
  return {
    title: TITLE,
    itemLabel: 'Destination',
    results,
    facts: [
      ['Method', document['method-note'] ?? document.method],
      ['Mode', document.mode],
      ['Allowed', allowed.join(', ') || '(nothing but DNS and loopback)'],
      ['Raw frames', document['raw-frames']],
      ['Scope', document['scope-note'] ? `${document.scope} (${document['scope-note']})` : document.scope],
      ['Tampered', String(document.tampered)],
    ],
    report: { details: document },
    outputs: { violations: String(count), tampered: String(document.tampered) },
    verdict:
      count === 0
        ? 'only allowed endpoints were contacted'
        : `${count} destination(s) outside the allow-list (fail-on-violation is off)`,
    failure: failures.length > 0 ? `egress-sentinel: ${failures.join('; ')}` : undefined,
  };
}

/** The `stop: true` step: finds the sentinel this job started, stops it, and reports with real step outputs. */
export async function stopStep(
  tempDir: string,
  options: { reportPath: string; failOnViolation: boolean },
): Promise<ActionResult<Outputs>> {
  const path = currentStatePath(tempDir);
  if (!existsSync(path))
    throw new UserError(
      `Input "stop": no egress-sentinel was started earlier in this job (${path} is missing); use egress-sentinel without stop first, then the step with stop: true`,
    );
  const state = JSON.parse(readFileSync(path, 'utf8')) as SentinelState;
  if (existsSync(stoppedMarker(state)))
    throw new UserError('Input "stop": the egress-sentinel of this job was already stopped by an earlier step');
  return finish(state, options);
}

/** The post step: the safety net when no stop step ran (or when the monitor still runs after one). */
export async function postStep(
  saved: string,
  context: Pick<ActionContext, 'logger'>,
  options: { reportPath: string; failOnViolation: boolean },
): Promise<ActionResult<Outputs>> {
  if (!saved)
    return {
      title: TITLE,
      results: [{ name: 'Monitor', status: 'fail', detail: 'not started (see the main step)', durationMs: 0 }],
      failure: 'egress-sentinel did not start (see the main step): nothing in this job was watched',
    };
  const state = JSON.parse(saved) as SentinelState;
  const marker = stoppedMarker(state);
  if (existsSync(marker) && !isMonitorAlive(state)) {
    const stopped = JSON.parse(readFileSync(marker, 'utf8')) as { report: string };
    context.logger.info(`The sentinel was stopped by the step with stop: true; its report is ${stopped.report}`);
    return {
      title: TITLE,
      results: [
        {
          name: 'Monitor',
          status: 'skip',
          detail: `stopped earlier by the stop step (report: ${stopped.report})`,
          durationMs: 0,
        },
      ],
      verdict: 'nothing left to stop',
      keepsEarlierReport: true,
    };
  }
  return finish(state, options);
}
