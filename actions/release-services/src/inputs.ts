import { z } from 'zod';
import {
  duration,
  integer,
  oneOf,
  optional,
  optionalLine,
  positiveDuration,
  statusSpec,
  withDefault,
} from '#action-kit/inputs.js';
import { watchConfig, watchInputs } from '#action-kit/watch.js';
import { sshInputs } from '#action-kit/target.js';
import { loadGates, PRESETS, type Gate } from '#core/gates/index.js';
import type { HealthConfig, WatchConfig } from '#core/health/index.js';
import { parseServices, type ServiceInput } from '#core/rollout/index.js';
import { parseList, type StatusSpec } from '#core/units/index.js';

/** `services`: a YAML list of services in rollout order, every problem told with its line (the parser: async). */
const services = () =>
  z.string().transform(async (text, ctx): Promise<ServiceInput[]> => {
    const result = await parseServices(text);
    if ('value' in result) return result.value;
    for (const message of result.problems) ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });

/** The inputs of release-services, keyed by their action.yml names, with the same defaults. */
export const releaseServicesInputs = {
  services: services(),
  release: optionalLine('20251102_154900-f0959baf'),
  'rollback-order': z.string().transform((text) => parseList(text, { commas: true })),
  'verify-command': optional(),
  'health-attempts': withDefault('6', integer({ min: 1, max: 1000 })),
  'health-interval': withDefault('5s', duration()),
  'health-timeout': withDefault('10s', positiveDuration()),
  'health-expect-status': withDefault('200', statusSpec()),
  keep: withDefault('5', integer({ min: 0, max: 1000 })),
  'hook-timeout': withDefault('10m', positiveDuration()),
  'lock-timeout': withDefault('5m', duration()),
  'rollback-budget': withDefault('15m', duration()),
  /** Gates every service's release must pass before the first switch, as pre-switch-gates' (YAML kept as text). */
  preset: withDefault('none', oneOf(PRESETS)),
  gates: z.string(),
  'gates-timeout': withDefault('60s', positiveDuration()),
  ...watchInputs,
  ...sshInputs,
  'report-path': optional(),
};

export type ReleaseServicesInputs = z.output<z.ZodObject<typeof releaseServicesInputs>>;

export function healthFor(service: ServiceInput, inputs: ReleaseServicesInputs): HealthConfig {
  const status: StatusSpec = inputs['health-expect-status'];
  return {
    urls: service.healthUrls,
    expect: { status, json: [] },
    headers: {},
    attempts: inputs['health-attempts'],
    intervalMs: inputs['health-interval'],
    maxIntervalMs: Math.max(inputs['health-interval'], 60_000),
    timeoutMs: inputs['health-timeout'],
    gracePeriodMs: 0,
    backoff: 'fixed',
    consecutiveSuccesses: 1,
    followRedirects: true,
  };
}

/** The gates every service's release must pass before the first switch; none unless a preset or gate YAML is given. */
export async function gatesFor(
  inputs: ReleaseServicesInputs,
  context: { workspace: string; mask: (...secrets: string[]) => void; env: (name: string) => string | undefined },
): Promise<{ gates: Gate[]; timeoutMs: number } | undefined> {
  if (inputs.preset === 'none' && inputs.gates.trim() === '') return undefined;
  const gates = await loadGates(
    { preset: inputs.preset, gates: inputs.gates },
    { ...context, label: { gates: 'Input "gates"', gatesFile: (file) => file } },
  );
  return { gates, timeoutMs: inputs['gates-timeout'] };
}

/** The watch window after the rollout: every service's health URLs at once, with health-retry's watch inputs. */
export function rolloutWatch(inputs: ReleaseServicesInputs): (HealthConfig & { watch: WatchConfig }) | undefined {
  const watch = watchConfig(inputs, {
    intervalMs: inputs['health-interval'],
    intervalInput: 'health-interval',
    attempts: inputs['health-attempts'],
  });
  if (!watch) return undefined;
  return { ...healthFor({ healthUrls: inputs.services.flatMap((s) => s.healthUrls) } as ServiceInput, inputs), watch };
}
