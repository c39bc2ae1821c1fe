import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ActionContext, ActionResult } from '#action-kit/index.js';
import { UserError } from '#core/errors.js';
import { checkpointSentinel, stopSentinel, TITLE, type SentinelState } from '#core/egress/index.js';

export type Outputs = { violations?: string; tampered?: string };

/**
 * Where main leaves the running sentinel's state for a later `stop: true` step of the same job (RUNNER_TEMP). It
 * holds no secret: any step can read and rewrite it (see recordProblem in core for what the stop step checks).
 */
export const currentStatePath = (tempDir: string) => join(tempDir, 'egress-sentinel-current.json');

export function reportPath(input: string, workspace: string): string {
  return isAbsolute(input) ? input : join(workspace, input);
}

/**
 * Renders a report: the post step's (the sentinel stopped) or the stop step's interim one (`checkpoint`: the monitor
 * watches on until the post step).
 */
export function render(
  { report: document, results, rulesRemoved }: Awaited<ReturnType<typeof stopSentinel>>,
  options: { reportPath: string; failOnViolation: boolean },
): ActionResult<Outputs> {
  const count = document.violations.length;
  const interim = document.checkpoint !== undefined;
  const failures = [
    ...(document.tampered ? [`tampering detected: ${document.tampering.join('; ')}`] : []),
    ...(!document.complete ? ['connections may have been missed (see incomplete in the report)'] : []),
    ...(!rulesRemoved ? ['the sentinel could not remove its nftables table inet deploy_gates_egress'] : []),
    ...(!interim && document.dns?.restored === false
      ? ['the sentinel could not restore /etc/resolv.conf (see dns.problems)']
      : []),
    ...(count > 0 && options.failOnViolation ? [`${count} destination(s) outside the allow-list`] : []),
  ];
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
      ...(interim
        ? [['Checkpoint', `${document.checkpoint}: the monitor watches on until the post step ends it`] as const]
        : []),
      ...(document['after-stop']?.length
        ? [['After the stop step', `${document['after-stop'].length} destination(s), listed in after-stop`] as const]
        : []),
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

/**
 * The `stop: true` step: finds the sentinel this job started and takes a checkpoint (it holds no stop secret, so it
 * cannot stop the monitor — no step but the post step can); reports everything up to it with real step outputs.
 */
export async function stopStep(
  tempDir: string,
  options: { reportPath: string; failOnViolation: boolean },
  logger: Pick<ActionContext['logger'], 'warning'>,
): Promise<ActionResult<Outputs>> {
  const path = currentStatePath(tempDir);
  if (!existsSync(path))
    throw new UserError(
      `Input "stop": no egress-sentinel was started earlier in this job (${path} is missing); use egress-sentinel without stop first, then the step with stop: true`,
    );
  const text = readFileSync(path, 'utf8');
  const state = JSON.parse(text) as SentinelState;
  if (!state.config.stopStep)
    logger.warning(
      'egress-sentinel was started without stop-step: true: it keeps watching after this step, and connections until the end of the job count (its post step judges them)',
    );
  return render(await checkpointSentinel(state, text), options);
}

/** The post step: the only one that can stop the monitor (the stop secret is in the state the runner kept for it). */
export async function postStep(
  saved: { state: string; secret: string },
  tempDir: string,
  options: { reportPath: string; failOnViolation: boolean },
): Promise<ActionResult<Outputs>> {
  if (!saved.state || !saved.secret)
    return {
      title: TITLE,
      results: [{ name: 'Monitor', status: 'fail', detail: 'not started (see the main step)', durationMs: 0 }],
      failure: 'egress-sentinel did not start (see the main step): nothing in this job was watched',
    };
  const state = JSON.parse(saved.state) as SentinelState;
  // The state a stop step read: a rewrite of it by a later step is tampering, even where no stop step ran.
  let current: string | undefined;
  try {
    current = readFileSync(currentStatePath(tempDir), 'utf8');
  } catch {
    current = undefined;
  }
  return render(await stopSentinel(state, saved.secret, state.config, current), options);
}
