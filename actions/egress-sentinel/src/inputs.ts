import { boolean, duration, InputError, lines, oneOf, required, withDefault } from '#action-kit/inputs.js';
import { parseAllowEntry, type SentinelConfig } from '#core/egress/index.js';

/** The inputs of egress-sentinel, keyed by their action.yml names, with the same defaults. */
export const egressSentinelInputs = {
  'allowed-endpoints': lines(parseAllowEntry),
  mode: withDefault('audit', oneOf(['audit', 'block'])),
  'allow-dns': withDefault('true', boolean()),
  'allow-loopback': withDefault('true', boolean()),
  'report-path': withDefault('artifacts/egress-violations.json', required('artifacts/egress-violations.json')),
  'fail-on-violation': withDefault('true', boolean()),
  'resolve-interval': withDefault('30s', duration({ min: 1_000 })),
  stop: withDefault('false', boolean()),
  'stop-step': withDefault('false', boolean()),
  'dns-policy': withDefault('allowed-names-only', oneOf(['allowed-names-only', 'any'])),
  'disable-sudo': withDefault('false', boolean()),
  'disable-containers': withDefault('false', boolean()),
  scope: withDefault('job', oneOf(['job', 'machine'])),
};

export function toConfig(inputs: {
  'allowed-endpoints': SentinelConfig['entries'];
  mode: SentinelConfig['mode'];
  'allow-dns': boolean;
  'allow-loopback': boolean;
  'resolve-interval': number;
  'dns-policy': 'allowed-names-only' | 'any';
  'disable-sudo': boolean;
  'disable-containers': boolean;
  scope: 'job' | 'machine';
  'stop-step': boolean;
}): SentinelConfig {
  const {
    mode,
    'allowed-endpoints': entries,
    'allow-dns': allowDns,
    'allow-loopback': allowLoopback,
    'resolve-interval': resolveIntervalMs,
    'dns-policy': dnsPolicy,
    'disable-sudo': disableSudo,
    'disable-containers': disableContainers,
    scope,
    'stop-step': stopStep,
  } = inputs;
  // Needed to start; the stop step (`stop: true`) uses what the starting step was given.
  if (entries.length === 0)
    throw new InputError(
      'allowed-endpoints',
      'needs at least one line to start the sentinel (e.g. db.internal:5432); only a step with `stop: true` may leave it out',
    );
  return {
    entries,
    mode,
    allowDns,
    allowLoopback,
    resolveIntervalMs,
    dnsPolicy,
    disableSudo,
    disableContainers,
    scope,
    stopStep,
  };
}
