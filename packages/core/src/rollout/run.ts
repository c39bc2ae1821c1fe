import { coreContext, type CoreContext } from '../context.js';
import { ArgumentError, UserError } from '../errors.js';
import type { HealthConfig } from '../health/config.js';
import { runHealthCheck, watchHealth } from '../health/run.js';
import type { WatchConfig } from '../health/watch.js';
import type { WatchReport } from '../health/watch-report.js';
import { shellQuote, type Target } from '../hosts/target.js';
import { formatDuration } from '../units/duration.js';
import type { CheckResult } from '../report/result.js';
import { inspectReleases, switchRelease } from '../release/switch.js';
import type { Gate } from '../gates/model.js';
import { runGates } from '../gates/run.js';
import type { SharedPlan } from '../release/shared.js';
import { rollbackOrderOf } from './order.js';

/**
 * An ordered rollout of several services of one release (the release runbook's flow): each service is switched and
 * health-checked before the next starts; the first failure stops the rollout. Then a coordinated rollback: the
 * before-rollback hooks of every service this run switched (stop the workers) in the rollback order, every such
 * service back to the release it had before this run (as this run recorded it, never guessed) in the rollback order,
 * a restart and health check of each in rollout order, and the verification command again.
 */
export interface ServiceSpec {
  name: string;
  target: Target;
  releasesRoot: string;
  release: string;
  health: HealthConfig;
  /** Run in the new release directory before the switch (migrations). */
  beforeSwitch: readonly string[];
  /** Run in the release directory after the switch and after a rollback (restart the service). */
  afterSwitch: readonly string[];
  /** Run in releases-root before any service is switched back (stop the workers). */
  beforeRollback: readonly string[];
  /** Linked into the new release before its hooks (release/shared.ts); never on a rollback. */
  shared?: SharedPlan;
}

export interface RolloutConfig {
  services: readonly ServiceSpec[];
  /** Service names, each once; default the reverse of the rollout order. */
  rollbackOrder?: readonly string[];
  /** The post-release verification; a failure after the rollout is a rollback trigger, and it runs again after the rollback. */
  verify?: { command: string; target: Target };
  keep: number;
  hookTimeoutMs?: number;
  lockTimeoutMs?: number;
  lockOwner?: string;
  /** The runbook's budget for the whole rollback (15 minutes). */
  rollbackBudgetMs?: number;
  /** Gates every service's release must pass before the first service is switched (pre-switch-gates' gates). */
  gates?: { gates: readonly Gate[]; timeoutMs: number };
  signal?: AbortSignal;
  /**
   * After the whole rollout (and the verification): a watch window over every service's health URLs and the
   * Prometheus queries (baselines at the time the rollout started); a failure is a rollback trigger.
   */
  watch?: HealthConfig & { watch: WatchConfig };
}

export const ROLLBACK_BUDGET_MS = 15 * 60_000;

export type ServiceState = 'deployed' | 'failed' | 'rolled-back' | 'rollback-failed' | 'untouched';

export interface HealthSummary {
  healthy: boolean;
  attempts: number;
  durationMs: number;
  detail: string;
}

/** What happened to one service in this run. */
export interface ServiceRecord {
  name: string;
  target: string;
  releasesRoot: string;
  /** What `current` pointed to before this run (recorded by this run's switch). */
  previousRelease: string | null;
  /** The release this run was to switch to. */
  newRelease: string;
  /** Whether this run changed `current` (and left it changed before any rollback). */
  switched: boolean;
  health: HealthSummary | null;
  state: ServiceState;
  rolledBack: boolean;
  /** ISO time at which `current` went back to previousRelease. */
  rolledBackAt: string | null;
  rollbackHealth: HealthSummary | null;
  /** Why this service failed (deploy or rollback), for people. */
  failure: string | null;
  results: CheckResult[];
}

export interface RolloutOutcome {
  ok: boolean;
  services: ServiceRecord[];
  /** The service whose deploy or health check stopped the rollout. */
  stoppedAt: string | null;
  verify: { command: string; afterRollout: CheckResult | null; afterRollback: CheckResult | null } | null;
  rollback: {
    order: string[];
    ok: boolean;
    durationMs: number;
    budgetMs: number;
    withinBudget: boolean;
    trigger: string;
  } | null;
  results: CheckResult[];
  failure: string | null;
  /** The watch window after the rollout, when one was configured and the rollout got that far. */
  watch?: WatchReport;
}

function healthSummary(outcome: Awaited<ReturnType<typeof runHealthCheck>>): HealthSummary {
  const failing = outcome.results.filter((r) => r.status === 'fail').map((r) => `${r.name}: ${r.detail}`);
  return {
    healthy: outcome.healthy,
    attempts: outcome.attemptsUsed,
    durationMs: outcome.durationMs,
    detail: outcome.healthy
      ? `healthy after ${outcome.attemptsUsed} attempt(s) in ${formatDuration(outcome.durationMs)}`
      : failing.join('; ') || 'unhealthy',
  };
}

async function runCommands(
  target: Target,
  phase: string,
  commands: readonly string[],
  cwd: string,
  env: Record<string, string>,
  config: RolloutConfig,
  context: CoreContext,
): Promise<{ results: CheckResult[]; failure?: string }> {
  const results: CheckResult[] = [];
  const clean = (text: string) => context.redactor.redact(text);
  const exports = Object.entries(env)
    .map(([key, value]) => `${key}=${shellQuote(value)}; export ${key}`)
    .join('\n');
  for (const command of commands) {
    const started = performance.now();
    context.logger.info(clean(`${phase}: $ ${command}`));
    const result = await target.run(`${exports}\n${command}`, {
      cwd,
      timeoutMs: config.hookTimeoutMs,
      signal: config.signal,
    });
    for (const line of `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.trim() !== ''))
      context.logger.info(clean(`  │ ${line}`));
    const ok = result.exitCode === 0 && !result.cancelled;
    const tail = result.stderr.trim().split('\n').at(-1) || result.stdout.trim().split('\n').at(-1) || '';
    const detail = result.cancelled
      ? 'stopped: the job was cancelled'
      : result.timedOut
        ? `timed out after ${Math.round(result.durationMs)} ms`
        : `exit ${result.exitCode}${tail ? `: ${tail}` : ''}`;
    results.push({
      name: `${phase}: ${command}`,
      status: ok ? 'pass' : 'fail',
      detail: clean(detail),
      durationMs: performance.now() - started,
    });
    if (!ok) return { results, failure: clean(`${phase} command \`${command}\` failed (${detail})`) };
  }
  return { results };
}

/** What a rollout works with: the configuration, every service's record, the summary rows, the context. */
interface Run {
  config: RolloutConfig;
  records: ServiceRecord[];
  results: CheckResult[];
  context: CoreContext;
}

function checkNames(config: RolloutConfig): void {
  if (config.services.length === 0)
    throw new ArgumentError(
      'services',
      'lists no service; give at least one with name, releases-root, release and health-urls',
    );
  const seen = new Set<string>();
  for (const service of config.services) {
    if (seen.has(service.name))
      throw new ArgumentError('services', `names "${service.name}" twice; every service needs its own name`);
    seen.add(service.name);
  }
}

function newRecord(s: ServiceSpec): ServiceRecord {
  return {
    name: s.name,
    target: s.target.description,
    releasesRoot: s.releasesRoot,
    previousRelease: null,
    newRelease: s.release,
    switched: false,
    health: null,
    state: 'untouched',
    rolledBack: false,
    rolledBackAt: null,
    rollbackHealth: null,
    failure: null,
    results: [],
  };
}

const switchSettings = (config: RolloutConfig) => ({
  keep: config.keep,
  hookTimeoutMs: config.hookTimeoutMs,
  lockTimeoutMs: config.lockTimeoutMs,
  lockOwner: config.lockOwner,
  signal: config.signal,
});

const errorText = (error: unknown, context: CoreContext) =>
  context.redactor.redact(error instanceof Error ? error.message : String(error));

/** Whether the release is in the service's releases/ (records `current` as found); the problem when not. */
async function releaseProblem(service: ServiceSpec, record: ServiceRecord, context: CoreContext) {
  try {
    const layout = await inspectReleases(service.target, service.releasesRoot);
    record.previousRelease = layout.current ?? null; // the switch records it again, as it finds it under the lock
    if (layout.releases.includes(service.release)) return null;
    return `release ${service.release} is not in ${service.releasesRoot}/releases on ${service.target.description}; unpack it there first (verify-bundle-sha)`;
  } catch (error) {
    return errorText(error, context);
  }
}

/** The configured gates on the service's release directory (read-only), as one row of the summary. */
async function serviceGates(service: ServiceSpec, { config, context }: Run): Promise<CheckResult> {
  const { gates, timeoutMs } = config.gates!;
  const started = performance.now();
  const name = `gates on ${service.name}`;
  const releaseDir = `${service.releasesRoot.replace(/\/+$/, '')}/releases/${service.release}`;
  try {
    const outcome = await runGates(service.target, releaseDir, gates, { timeoutMs }, context);
    const failed = outcome.results.filter((gate) => gate.status === 'fail');
    const detail = failed.length
      ? `${outcome.passed}/${outcome.total} passed; failed: ${failed.map((gate) => `${gate.name} (${gate.detail})`).join('; ')}`
      : `${outcome.passed}/${outcome.total} passed`;
    return { name, status: failed.length ? 'fail' : 'pass', detail, durationMs: performance.now() - started };
  } catch (error) {
    return { name, status: 'fail', detail: errorText(error, context), durationMs: performance.now() - started };
  }
}

/**
 * Before the first service is switched: the release must be there on every service, and pass the gates when there
 * are any. A rollout that would stop at the third service for a release that was never unpacked there, or that fails
 * its gates there, must not have restarted the first two. Reads only; every service is checked, so all is told.
 */
async function precheck(run: Run): Promise<string | null> {
  const { config, records, results, context } = run;
  const notReady: string[] = [];
  for (const [index, service] of config.services.entries()) {
    const record = records[index]!;
    const started = performance.now();
    record.failure = await releaseProblem(service, record, context);
    results.push({
      name: `release on ${service.name}`,
      status: record.failure ? 'fail' : 'pass',
      detail: record.failure ?? `${service.release} is in ${service.releasesRoot}/releases`,
      durationMs: performance.now() - started,
    });
    if (!record.failure && config.gates) {
      const gates = await serviceGates(service, run);
      results.push(gates);
      if (gates.status === 'fail') record.failure = `gates failed: ${gates.detail}`;
    }
    if (record.failure) notReady.push(service.name);
  }
  if (notReady.length === 0) return null;
  const trigger = `the release is not ready on ${notReady.join(', ')}`;
  context.logger.error(`${trigger}; no service was switched`);
  return trigger;
}

/** Switches one service and checks its health; the record says how it went. */
async function deployService(service: ServiceSpec, record: ServiceRecord, run: Run): Promise<void> {
  const { config, context } = run;
  try {
    const outcome = await switchRelease(
      service.target,
      {
        ...switchSettings(config),
        releasesRoot: service.releasesRoot,
        release: service.release,
        mode: 'switch',
        beforeSwitch: service.beforeSwitch,
        afterSwitch: service.afterSwitch,
        // A failed after-switch hook leaves current on the new release: the coordinated rollback takes this service
        // back with the others (stop its workers, switch back, mark bad, restart, health check).
        rollbackOnFailure: 'coordinated',
        shared: service.shared,
      },
      context,
    );
    record.results.push(...outcome.results);
    record.previousRelease = outcome.previousRelease ?? null;
    record.switched = outcome.switched && outcome.currentRelease !== outcome.previousRelease;
    if (!outcome.ok) record.failure = outcome.failure ?? 'release-switch failed';
  } catch (error) {
    record.failure = errorText(error, context);
  }
  if (!record.failure) {
    const health = healthSummary(await runHealthCheck(service.health, context));
    record.health = health;
    record.results.push({
      name: 'health',
      status: health.healthy ? 'pass' : 'fail',
      detail: health.detail,
      durationMs: health.durationMs,
    });
    if (!health.healthy) record.failure = `health check failed: ${health.detail}`;
  }
  record.state = record.failure ? 'failed' : 'deployed';
}

/** The rollout: one service after the other, each healthy before the next starts. Returns where and why it stopped. */
async function deployAll(run: Run): Promise<{ stoppedAt: string | null; trigger: string | null }> {
  const { config, records, results, context } = run;
  for (const [index, service] of config.services.entries()) {
    const record = records[index]!;
    if (config.signal?.aborted) {
      const trigger = `the job was cancelled before ${service.name}`;
      context.logger.error(`${trigger}; the rollout stops here`);
      return { stoppedAt: service.name, trigger };
    }
    const started = performance.now();
    context.logger.info(
      `[${index + 1}/${config.services.length}] ${service.name}: ${service.releasesRoot} → ${service.release} on ${service.target.description}`,
    );
    await deployService(service, record, run);
    results.push({
      name: `deploy ${service.name}`,
      status: record.failure ? 'fail' : 'pass',
      detail: record.failure ?? `→ ${service.release}${record.health ? `, ${record.health.detail}` : ''}`,
      durationMs: performance.now() - started,
    });
    if (record.failure) {
      context.logger.error(
        `${service.name} failed; the rollout stops here (${config.services.length - index - 1} service(s) not touched): ${record.failure}`,
      );
      return { stoppedAt: service.name, trigger: `${service.name} failed: ${record.failure}` };
    }
  }
  return { stoppedAt: null, trigger: null };
}

async function runVerify(run: Run, when: string): Promise<CheckResult> {
  const { command, target } = run.config.verify!;
  const done = await runCommands(target, `verify (${when})`, [command], '.', {}, run.config, run.context);
  return done.results[0]!;
}

function failRecord(record: ServiceRecord, why: string): void {
  record.state = 'rollback-failed';
  record.failure = record.failure ? `${record.failure}; rollback: ${why}` : `rollback: ${why}`;
}

type Pair = { record: ServiceRecord; service: ServiceSpec };

/** 1. Stop what keeps using the new code (the before-rollback hooks), in the rollback order. */
async function stopWorkers(toRollBack: readonly Pair[], run: Run): Promise<void> {
  for (const { record, service } of toRollBack) {
    const env = {
      DEPLOY_RELEASE: record.previousRelease ?? '',
      DEPLOY_NEW_RELEASE: record.newRelease,
      DEPLOY_RELEASES_ROOT: service.releasesRoot,
      DEPLOY_SERVICE: service.name,
    };
    const phase = `before-rollback ${service.name}`;
    const stopped = await runCommands(
      service.target,
      phase,
      service.beforeRollback,
      service.releasesRoot,
      env,
      run.config,
      run.context,
    );
    record.results.push(...stopped.results);
    if (stopped.failure) failRecord(record, stopped.failure);
  }
}

/**
 * 2. One switched service back to the release this run recorded — unless someone else moved `current` since. The
 * release left is recorded bad, unless the trigger was a cancelled job (which proved nothing against it).
 */
async function switchBack({ record, service }: Pair, run: Run, markBad: boolean): Promise<void> {
  const { config, results, context } = run;
  const started = performance.now();
  const row = (status: 'pass' | 'fail', detail: string) =>
    results.push({ name: `roll back ${service.name}`, status, detail, durationMs: performance.now() - started });
  if (!record.previousRelease) {
    failRecord(
      record,
      `there was no release before ${record.newRelease} (first deploy), so current stays at ${record.newRelease}`,
    );
    return void results.push({
      name: `roll back ${service.name}`,
      status: 'fail',
      detail: record.failure!,
      durationMs: 0,
    });
  }
  try {
    // One locked switch: current must still be this run's release, and the release left is recorded bad in the same
    // append (the coordinated release failed as a whole: a later rollback without `release` must not land on it).
    const back = await switchRelease(
      service.target,
      {
        ...switchSettings(config),
        signal: undefined,
        releasesRoot: service.releasesRoot,
        release: record.previousRelease,
        mode: 'rollback',
        beforeSwitch: [],
        afterSwitch: [],
        rollbackOnFailure: false,
        expectCurrent: record.newRelease,
        markLeftBad: markBad,
      },
      context,
    );
    record.results.push(...back.results);
    if (!back.ok || back.currentRelease !== record.previousRelease)
      throw new UserError(back.failure ?? `current is ${back.currentRelease ?? 'nothing'}`);
    record.rolledBack = true;
    record.rolledBackAt = new Date(context.now()).toISOString();
    record.state = 'rolled-back';
    if (markBad && !back.history.some((entry) => entry.outcome === 'bad' && entry.release === record.newRelease))
      throw new UserError(`${record.newRelease} was rolled back but could not be recorded bad in its release history`);
    const marked = markBad ? 'marked bad' : 'not marked bad: the job was cancelled';
    row('pass', `${record.newRelease} → ${record.previousRelease}, ${marked}`);
  } catch (error) {
    failRecord(record, errorText(error, context));
    row('fail', record.failure!);
  }
}

/** 3. Restart and health-check one rolled-back service. */
async function restartAndCheck({ record, service }: Pair, run: Run): Promise<void> {
  const started = performance.now();
  const env = {
    DEPLOY_RELEASE: record.previousRelease!,
    DEPLOY_RELEASE_DIR: `${service.releasesRoot}/releases/${record.previousRelease}`,
    DEPLOY_RELEASES_ROOT: service.releasesRoot,
    DEPLOY_PREVIOUS_RELEASE: record.newRelease,
    DEPLOY_SERVICE: service.name,
  };
  const restarted = await runCommands(
    service.target,
    `restart ${service.name}`,
    service.afterSwitch,
    `${service.releasesRoot}/current`,
    env,
    run.config,
    run.context,
  );
  record.results.push(...restarted.results);
  if (restarted.failure) failRecord(record, restarted.failure);
  const health = healthSummary(await runHealthCheck(service.health, run.context));
  record.rollbackHealth = health;
  record.results.push({
    name: 'health after rollback',
    status: health.healthy ? 'pass' : 'fail',
    detail: health.detail,
    durationMs: health.durationMs,
  });
  if (!health.healthy) failRecord(record, `health check after the rollback failed: ${health.detail}`);
  const ok = record.state === 'rolled-back';
  run.results.push({
    name: `restart ${service.name}`,
    status: ok ? 'pass' : 'fail',
    detail: ok ? health.detail : record.failure!,
    durationMs: performance.now() - started,
  });
}

/**
 * The coordinated rollback. It runs to the end even when the job was cancelled: stopping half-way would leave
 * services on two releases.
 */
async function rollBack(given: Run, trigger: string, verify: RolloutOutcome['verify']) {
  const markBad = !given.config.signal?.aborted;
  const run = { ...given, config: { ...given.config, signal: undefined } };
  const { config, records, results, context } = run;
  const rollbackStart = performance.now();
  const pairs = records.map((record, index) => ({ record, service: config.services[index]! }));
  const byName = new Map(pairs.map((pair) => [pair.record.name, pair]));
  const order = rollbackOrderOf(config.services, config.rollbackOrder);
  const toRollBack = order.map((name) => byName.get(name)!).filter(({ record }) => record.switched);
  context.logger.warning(
    `Rolling back ${toRollBack.length} service(s) in the order ${toRollBack.map(({ record }) => record.name).join(', ') || '(none)'}: ${trigger}`,
  );
  await stopWorkers(toRollBack, run);
  for (const pair of toRollBack) await switchBack(pair, run, markBad);
  for (const pair of pairs) if (pair.record.rolledBack) await restartAndCheck(pair, run);
  // 4. The post-release verification again.
  if (verify) {
    verify.afterRollback = await runVerify(run, 'after the rollback');
    results.push(verify.afterRollback);
  }
  const durationMs = Math.round(performance.now() - rollbackStart);
  const budgetMs = config.rollbackBudgetMs ?? ROLLBACK_BUDGET_MS;
  const ok =
    toRollBack.every(({ record }) => record.state === 'rolled-back') && verify?.afterRollback?.status !== 'fail';
  const withinBudget = durationMs <= budgetMs;
  results.push({
    name: 'rollback time',
    status: withinBudget ? 'pass' : 'fail',
    detail: `${formatDuration(durationMs)} for ${toRollBack.length} service(s), target ${formatDuration(budgetMs)}`,
    durationMs,
  });
  const rolledBackOrder = toRollBack.map(({ record }) => record.name);
  return { order: rolledBackOrder, ok, durationMs, budgetMs, withinBudget, trigger };
}

/** Why a rollout that did not pass failed, for people: the trigger, then what the rollback did or could not do. */
function failureOf(
  records: readonly ServiceRecord[],
  rollback: NonNullable<RolloutOutcome['rollback']>,
  verify: RolloutOutcome['verify'],
): string {
  const { trigger, ok, order, durationMs } = rollback;
  if (order.length === 0 && ok) return `${trigger}; no service was switched, nothing to roll back`;
  if (ok) return `${trigger}; rolled back ${order.join(', ')} in ${formatDuration(durationMs)}`;
  const broken = records
    .filter((record) => order.includes(record.name) && record.state === 'rollback-failed')
    .map((record) => `${record.name} (${record.failure})`);
  const unverified =
    verify?.afterRollback?.status === 'fail' ? [`verification after the rollback: ${verify.afterRollback.detail}`] : [];
  return `${trigger}; THE ROLLBACK FAILED: ${[...broken, ...unverified].join('; ')}`;
}

/**
 * Deploys the services in order — after checking that the release is there on every one — stops at the first
 * failure and rolls back what this run switched.
 */
export async function rolloutServices(
  config: RolloutConfig,
  context: Partial<CoreContext> = {},
): Promise<RolloutOutcome> {
  checkNames(config);
  rollbackOrderOf(config.services, config.rollbackOrder);
  const run: Run = { config, records: config.services.map(newRecord), results: [], context: coreContext(context) };
  const startedAt = run.context.now(); // before the first switch: the Prometheus baselines' time
  const notReady = await precheck(run);
  const { stoppedAt, trigger: failed } = notReady
    ? { stoppedAt: run.records.find((record) => record.failure)!.name, trigger: notReady }
    : await deployAll(run);
  let trigger = failed;
  let verify: RolloutOutcome['verify'] = null;
  if (config.verify) {
    verify = { command: config.verify.command, afterRollout: null, afterRollback: null };
    if (!trigger) {
      verify.afterRollout = await runVerify(run, 'after the rollout');
      run.results.push(verify.afterRollout);
      if (verify.afterRollout.status === 'fail')
        trigger = `the verification failed after the rollout: ${verify.afterRollout.detail}`;
    }
  }
  const watch = !trigger && config.watch ? await watchRollout(run, config.watch, startedAt) : undefined;
  if (watch?.failure) trigger = `the watch window failed: ${watch.failure}`;
  const { records, results } = run;
  if (!trigger)
    return { ok: true, services: records, stoppedAt: null, verify, rollback: null, results, failure: null, watch };
  // Nothing was switched when the release was not ready: no rollback, and no verification "after the rollback".
  const rollback = notReady ? null : await rollBack(run, trigger, verify);
  const failure = rollback ? failureOf(records, rollback, verify) : `${trigger}; no service was switched`;
  if (rollback && !rollback.ok) run.context.logger.error(failure);
  return { ok: false, services: records, stoppedAt, verify, rollback, results, failure, watch };
}

/** The watch window over every service at once, after the rollout; its rows join the rollout's. */
async function watchRollout(run: Run, health: NonNullable<RolloutConfig['watch']>, baselineAt: number) {
  const watch = await watchHealth(
    { ...health, watch: { ...health.watch, signal: run.config.signal } },
    run.context,
    baselineAt,
  );
  run.results.push(...watch.results);
  return watch;
}
