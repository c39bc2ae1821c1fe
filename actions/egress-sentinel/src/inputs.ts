import { boolean, lines, oneOf, required, withDefault } from '#core/inputs/schema.js';
import { parseAllowEntry } from '#core/egress/allow.js';
import type { SentinelConfig } from '#core/egress/sentinel.js';

/** The inputs of egress-sentinel, keyed by their action.yml names, with the same defaults. */
export const egressSentinelInputs = {
  'allowed-endpoints': lines(parseAllowEntry, { min: 1 }),
  mode: withDefault('audit', oneOf(['audit', 'block'])),
  'allow-dns': withDefault('true', boolean()),
  'allow-loopback': withDefault('true', boolean()),
  'report-path': withDefault('artifacts/egress-violations.json', required()),
  'fail-on-violation': withDefault('true', boolean()),
};

export function toConfig(inputs: {
  'allowed-endpoints': SentinelConfig['entries'];
  mode: SentinelConfig['mode'];
  'allow-dns': boolean;
  'allow-loopback': boolean;
}): SentinelConfig {
  return { entries: inputs['allowed-endpoints'], mode: inputs.mode, allowDns: inputs['allow-dns'], allowLoopback: inputs['allow-loopback'] };
}
