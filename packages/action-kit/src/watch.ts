import type { z } from 'zod';
// The query parser itself, not the health domain's face: that would bring the health check and watch window (HTTP,
// Prometheus) into every bundle that reads these inputs, before its first line.
import { duplicateQueryNames, parseQueryLine, QUERY_EXAMPLE } from '#core/health/prometheus-queries.js';
import type { WatchConfig } from '#core/health/index.js';
import { httpUrl } from '#core/http/index.js';
import { urlCredentials } from '#core/redact.js';
import {
  checkedBy,
  duration,
  InputError,
  lines,
  credential,
  optionalDuration,
  optionalOf,
  withDefault,
} from './inputs.js';

/**
 * The watch-window inputs shared by health-retry and release-services (`watch`, `unhealthy-for`, `prometheus-url`,
 * `prometheus-token`, `queries`): spread into an action's inputs like `sshInputs`, masked with `watchSecrets`, and
 * turned into core's WatchConfig by `watchConfig`, which checks the inputs that only make sense together.
 */
export const watchInputs = {
  watch: withDefault('0s', duration()),
  'unhealthy-for': optionalDuration(),
  'prometheus-url': optionalOf(checkedBy(httpUrl)),
  'prometheus-token': credential('${{ secrets.PROMETHEUS_TOKEN }}'),
  queries: lines(parseQueryLine),
};
export const watchSecrets = { 'prometheus-url': urlCredentials, 'prometheus-token': 'value' } as const;

export type WatchInputValues = { [K in keyof typeof watchInputs]: z.output<(typeof watchInputs)[K]> };

/** How the action probes: the wait between probes (and the input that sets it), attempts, the SLO limits. */
export interface WatchProbing {
  intervalMs: number;
  intervalInput: string;
  attempts: number;
  p95Ms?: number;
  maxErrorRate?: number;
}

export function watchConfig(inputs: WatchInputValues, probing: WatchProbing): WatchConfig | undefined {
  const { watch, queries } = inputs;
  const url = inputs['prometheus-url'];
  if (queries.length > 0 && !url)
    throw new InputError(
      'queries',
      'needs prometheus-url, the Prometheus server to ask, e.g. https://prometheus.example.com',
    );
  if (url && queries.length === 0)
    throw new InputError(
      'prometheus-url',
      `is set but queries is empty; give one check per line, e.g. ${QUERY_EXAMPLE}`,
    );
  const twice = duplicateQueryNames(queries);
  if (twice.length > 0)
    throw new InputError('queries', `name ${twice.join(', ')} more than once; every query needs its own name`);
  if (watch === 0) {
    if (queries.length > 0)
      throw new InputError('queries', 'are evaluated during the watch window, which is off: set watch, e.g. watch: 3m');
    if (inputs['unhealthy-for'] !== undefined)
      throw new InputError('unhealthy-for', 'applies to the watch window, which is off: set watch, e.g. watch: 3m');
    return undefined;
  }
  if (probing.intervalMs === 0)
    throw new InputError(
      probing.intervalInput,
      `must be more than 0 with watch: it is the wait between probes, e.g. ${probing.intervalInput}: 5s`,
    );
  return {
    windowMs: watch,
    unhealthyForMs: inputs['unhealthy-for'] ?? probing.intervalMs * probing.attempts,
    p95Ms: probing.p95Ms,
    maxErrorRate: probing.maxErrorRate,
    prometheus: url ? { source: { url, token: inputs['prometheus-token'] }, queries } : undefined,
  };
}
