import type { CheckResult } from '../report/result.js';
import type { DnsPolicy } from './dns-policy.js';
import type { Method } from './monitor-config.js';

/** A destination the job connected to, or tried to, that was not allowed. */
export interface Violation {
  address: string;
  port: number;
  protocol: string;
  hostname?: string;
  'first-seen': string;
  count: number;
  blocked: boolean;
  process?: string;
  pid?: number;
  /** The address the process asked for when NAT sent the flow elsewhere (`address` is where it really went). */
  'nat-from'?: string;
  /** The name asked for (a DNS query the forwarder refused: `protocol: "dns"`, `address` the forwarder). */
  name?: string;
  'query-type'?: string;
}

/** Connections to a destination not allowed, by a process outside the job (scope: job), which were not counted. */
export interface OutsideConnection {
  address: string;
  port: number;
  protocol: string;
  count: number;
  process?: string;
  pid?: number;
}

/** A time window in which the sentinel may not have seen everything, and why. */
export interface Window {
  from: string;
  to: string;
  reason: string;
}

/** One thing that is let through: an allowed-endpoints line, or an exception the sentinel makes by itself. */
export interface AllowedItem {
  entry: string;
  addresses?: string[];
  /** A name pattern (or name) with the DNS forwarder: each name asked for and every address it resolved to. */
  names?: { name: string; addresses: string[] }[];
  /** `sentinel`: an exception the sentinel makes by itself (DNS, loopback, DHCP, neighbour discovery, ARP). */
  by?: 'sentinel';
}

/** A flow that was already in the connection table when the sentinel started. */
export interface PreExistingFlow {
  address: string;
  port: number;
  protocol: string;
  'source-port': number;
  allowed: boolean;
  /** Block mode: its further packets are rejected (it is not allowed). */
  cut: boolean;
}

/** The report's `dns` part: the policy, and with the forwarder where it listened, whom it asked and what it refused. */
export interface DnsReport {
  policy: DnsPolicy;
  /** Whether the forwarder ran (block mode, allowed-names-only, names in the allow-list). */
  forwarder?: string;
  upstream?: string[];
  /** Refused names beyond the ones listed as violations (the forwarder lists the first 1,000). */
  'refused-unlisted'?: number;
  /** Queries it could not answer (SERVFAIL), the first few. */
  problems?: string[];
  /** Whether /etc/resolv.conf was put back as it was. */
  restored?: boolean;
}

/**
 * The egress report (its own fields; the common report envelope carries them as the action's details). `tampered`
 * with `tampering` (what changed) and `gaps` (when the monitor or its listener stood still); `complete: false` with
 * `incomplete` when connections may have been missed (the kernel dropped events).
 */
export interface SentinelReport {
  version: 1;
  method: Method;
  'method-note'?: string;
  mode: 'audit' | 'block';
  /** `job`: connections of processes provably outside the job are not violations (listed in `outside-job`). */
  scope: 'job' | 'machine';
  'scope-note'?: string;
  'outside-job'?: OutsideConnection[];
  /** disable-sudo: the job's user had no passwordless sudo while the sentinel watched (and these sockets were closed to it). */
  'sudo-disabled': boolean;
  'containers-disabled': string[];
  allowed: AllowedItem[];
  'dns-servers': string[];
  dns?: DnsReport;
  'raw-frames': string;
  'pre-existing': PreExistingFlow[];
  violations: Violation[];
  tampered: boolean;
  tampering: string[];
  gaps: Window[];
  complete: boolean;
  incomplete: Window[];
  'started-at': string;
  'stopped-at': string;
  /** An interim report (the stop step's): when its checkpoint was; the monitor watched on until the post step. */
  checkpoint?: string;
  /** When the monitor took checkpoints (stop steps; a forged one changes nothing). */
  checkpoints: string[];
  /** stop-step: true — destinations first seen after the last checkpoint (not violations: the watched steps had ended). */
  'after-stop'?: Violation[];
}

export const METHOD_TEXT = (pollMs: number): Record<Method, string> => ({
  conntrack:
    'kernel connection tracking (conntrack events): every new connection of every process, containers included',
  'proc-poll': `polling /proc/net/{tcp,tcp6,udp,udp6} every ${pollMs}ms: can miss connections shorter than that interval`,
});

const label = (violation: Violation) =>
  violation.name !== undefined
    ? `DNS ${violation.name} (${violation['query-type']})`
    : `${violation.address.includes(':') ? `[${violation.address}]` : violation.address}:${violation.port}/${violation.protocol}${violation.hostname ? ` (${violation.hostname})` : ''}`;

/** The rows of the summary: the monitor, the rules, then each violation (the first 100). */
export function reportResults(
  report: SentinelReport,
  rules: { installed: boolean; removed: boolean; kept?: boolean },
  durationMs: number,
): CheckResult[] {
  const problems = [
    ...report.tampering,
    ...report.incomplete.map((item) => `incomplete ${item.from}…${item.to}: ${item.reason}`),
  ];
  const results: CheckResult[] = [
    {
      name: 'Monitor',
      status: problems.length > 0 ? 'fail' : 'pass',
      detail:
        problems.length > 0
          ? `${report.tampered ? 'tampered: ' : ''}${problems.join('; ')}`
          : (report['method-note'] ?? report.method),
      durationMs,
    },
  ];
  if (rules.installed)
    results.push({
      name: 'Rules',
      status: rules.removed || rules.kept ? 'pass' : 'fail',
      detail: `inet deploy_gates_egress (${report.mode === 'block' ? 'rejects what is not allowed, IPv4 and IPv6, output and forward' : 'tracks every connection'}) ${rules.kept ? 'in place until the post step' : rules.removed ? 'removed' : 'could NOT be removed'}`,
      durationMs: 0,
    });
  for (const violation of report.violations.slice(0, 100))
    results.push({
      name: label(violation),
      status: 'fail',
      detail: violationDetail(violation),
      durationMs: 0,
    });
  const outside = report['outside-job'] ?? [];
  if (outside.length > 0)
    results.push({
      name: 'Scope',
      status: 'pass',
      detail: `job: ${outside.reduce((sum, item) => sum + item.count, 0)} connection(s) by processes outside the job not counted (${outside
        .slice(0, 5)
        .map(
          (item) =>
            `${label({ ...item, 'first-seen': '', blocked: false })} by ${item.process ?? '?'} (pid ${item.pid ?? '?'})`,
        )
        .join(', ')}; see outside-job in the report)`,
      durationMs: 0,
    });
  if (report.violations.length === 0)
    results.push({
      name: 'Destinations',
      status: 'pass',
      detail: report.complete
        ? 'only allowed endpoints were contacted'
        : 'only allowed endpoints among the connections seen; the record is incomplete (see Monitor)',
      durationMs: 0,
    });
  return results;
}

function violationDetail(violation: Violation): string {
  if (violation.name !== undefined)
    return `name not allowed: ${violation.count} quer(ies) answered NXDOMAIN by the sentinel's DNS forwarder, first at ${violation['first-seen']}`;
  return `not allowed: ${violation.count} ${violation.blocked ? 'attempt(s), blocked' : 'connection(s)'}, first at ${violation['first-seen']}${violation['nat-from'] ? `, NAT from ${violation['nat-from']}` : ''}${violation.process ? `, by ${violation.process} (pid ${violation.pid})` : ''}`;
}
