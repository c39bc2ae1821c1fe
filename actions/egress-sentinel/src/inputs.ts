import { boolean, duration, lines, oneOf, required, withDefault } from '#action-kit/inputs.js';
import { parseAllowEntry, type SentinelConfig } from '#core/egress/index.js';

/** The inputs of egress-sentinel, keyed by their action.yml names, with the same defaults. */
export const egressSentinelInputs = {
  'allowed-endpoints': lines(parseAllowEntry, { min: 1 }),
  mode: withDefault('audit', oneOf(['audit', 'block'])),
  'allow-dns': withDefault('true', boolean()),
  'allow-loopback': withDefault('true', boolean()),
  'report-path': withDefault('artifacts/egress-violations.json', required()),
  'fail-on-violation': withDefault('true', boolean()),
  'resolve-interval': withDefault(
    '30s',
    duration().refine((ms) => ms >= 1_000, { message: 'must be at least 1s' }),
  ),
};

export function toConfig(inputs: {
  'allowed-endpoints': SentinelConfig['entries'];
  mode: SentinelConfig['mode'];
  'allow-dns': boolean;
  'allow-loopback': boolean;
  'resolve-interval': number;
}): SentinelConfig {
  const {
    mode,
    'allowed-endpoints': entries,
    'allow-dns': allowDns,
    'allow-loopback': allowLoopback,
    'resolve-interval': resolveIntervalMs,
  } = inputs;
  return { entries, mode, allowDns, allowLoopback, resolveIntervalMs };
}
