import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { randomHex } from '../random.js';
import { dnsServersFrom } from './allow.js';
import { FORWARDER_ADDRESSES, GRACE_SECONDS, upstreamServers, usesForwarder } from './dns-policy.js';
import { pointResolverAt } from './dns-resolver.js';
import { sendLock, sendStop, stopToken } from './control.js';
import { stillPrivileged } from './lockdown.js';
import { removeEarlySync, type EarlyTables } from './early-tables.js';
import { dhcpServers, interfaces, readText } from './host-facts.js';
import { adoptLaunchedMonitor, isMonitorAlive, onPath, spawnMonitor, type Monitor } from './launch.js';
import { cgroupOf, type JobScope } from './scope.js';
import type { Method, MonitorConfig } from './monitor-config.js';
import { resolveHosts } from './monitor.js';
import {
  allowElements,
  installRuleset,
  readAllowSets,
  readTables,
  removeRuleset,
  rulesetScript,
  sentinelExceptions,
  type RulesetOptions,
} from './nft.js';
import { findPrivilege, runCommand, type Privilege } from './privilege.js';
import { POLL_INTERVAL_MS, type SentinelConfig, type SentinelState } from './sentinel-state.js';
import { readSnapshot, waitForSnapshot } from './snapshot-file.js';
import { legacyRules } from './legacy-rules.js';

/** What block mode needs, told plainly when it is missing; and which method audit mode can use. */
function checkCapabilities(config: SentinelConfig, privilege: Privilege | undefined, nft: boolean) {
  if (config.mode === 'block' && !nft)
    throw new UserError(
      privilege
        ? 'Input "mode": block needs nftables, and `nft` is not installed on this runner; install it (sudo apt-get install -y nftables) or use mode: audit'
        : 'Input "mode": block needs root or passwordless sudo to install firewall rules, and this runner has neither; use mode: audit (records without blocking) or a runner with sudo',
    );
  const patterns = config.entries.filter((entry) => entry.kind === 'pattern').map((entry) => entry.text);
  if (config.mode === 'block' && patterns.length > 0 && !usesForwarder(config))
    throw new UserError(
      `Input "allowed-endpoints": ${patterns.join(', ')} cannot be enforced in block mode with dns-policy: any (a name pattern has no addresses to allow); use dns-policy: allowed-names-only, list the names (api.example.com:443) or use mode: audit`,
    );
}

/** An allowed name that resolves to nothing allows nothing: a typo, or a name only another network knows. */
function checkResolved(config: SentinelConfig, resolved: Record<string, string[]>) {
  const unresolved = config.entries.filter((entry) => entry.kind === 'host' && !resolved[entry.host]?.length);
  if (unresolved.length > 0)
    throw new UserError(
      `Input "allowed-endpoints": ${unresolved.map((entry) => entry.text).join(', ')} does not resolve to any address on this runner; fix the name, or list the address itself (203.0.113.7:5432)`,
    );
}

/** This machine's on-link IPv6 prefixes (`fd00:1::/64`), link-local ones aside. */
export function onlinkPrefixes6(): string[] {
  const prefixes = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const item of list ?? [])
      if (item.family === 'IPv6' && item.cidr && !item.internal && !/^fe80:/i.test(item.address)) {
        const length = Number(item.cidr.split('/')[1]);
        prefixes.add(`${networkOf6(item.address.replace(/%.*$/, ''), length)}/${length}`);
      }
  return [...prefixes];
}

/** The network address of an IPv6 address under a prefix length (host bits cleared), in full form. */
export function networkOf6(address: string, length: number): string {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parts = (text: string | undefined) => (text ? text.split(':') : []);
  const groups = [...parts(head), ...Array(8 - parts(head).length - parts(tail).length).fill('0'), ...parts(tail)];
  return groups
    .map((group, index) => {
      const keep = Math.max(0, Math.min(16, length - index * 16));
      const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
      return (parseInt(group, 16) & mask).toString(16);
    })
    .join(':');
}

/**
 * Installs the tables (first audit, so the monitor's probe gets through; the caller replaces them later), with
 * netdev egress hooks on every interface; a kernel without them (before 5.16) gets the tables without, and says so.
 * The entry's early tables (see early-tables.ts), once in, are these very tables: taken over, not installed again.
 */
async function installFirst(
  privilege: Privilege,
  options: RulesetOptions,
  script: (options: RulesetOptions) => string,
  early: EarlyTables | undefined,
) {
  if (early && (await early.installed))
    return { devices: early.devices, rawNote: `filtered on ${early.devices.join(', ') || 'no interface'}` };
  try {
    await installRuleset(privilege, script(options), options).catch(() => installRuleset(privilege, script(options)));
    return {
      devices: [...(options.devices ?? [])],
      rawNote: `filtered on ${options.devices?.join(', ') || 'no interface'}`,
    };
  } catch (error) {
    if (!options.devices?.length) throw error;
    await installRuleset(privilege, script({ ...options, devices: [] }));
    const why = (error as Error).message.replace(/\s+/g, ' ').slice(0, 200);
    return { devices: [], rawNote: `not filtered: the netdev egress hook could not be installed (${why})` };
  }
}

/** disable-sudo / disable-containers: what they need, told plainly when it is missing. */
function checkLockdown(config: SentinelConfig) {
  if (config.disableContainers && !config.disableSudo)
    throw new UserError(
      'Input "disable-containers": true needs disable-sudo: true as well (with sudo a step gives itself the container socket back); set both',
    );
  if (config.disableSudo && process.getuid?.() === 0)
    throw new UserError(
      'Input "disable-sudo": this step runs as root (uid 0), so there is no sudo to take away; run the job as a non-root user with passwordless sudo (as GitHub-hosted runners do), or set disable-sudo: false',
    );
}

/**
 * Where a root monitor writes its snapshot: a directory only root can write (the job's user could replace a file),
 * `/run/deploy-gates-egress-<marker>`, which the monitor itself creates (refusing one that is already there).
 */
function recordDir(privilege: Privilege | undefined, dir: string, marker: string): string {
  if (!privilege?.prefix.length) return dir;
  return join(existsSync('/run') ? '/run' : tmpdir(), `deploy-gates-egress-${marker}`);
}

/** scope: job works where the monitor can name every process (it runs as root); else the machine, and why. */
function scopeOf(config: SentinelConfig, method: Method): Pick<SentinelState, 'scope' | 'scopeNote'> {
  if ((config.scope ?? 'job') === 'machine') return { scope: 'machine' };
  return method === 'conntrack'
    ? { scope: 'job' }
    : {
        scope: 'machine',
        scopeNote:
          "scope: job needs root (the monitor cannot name other users' processes without it): every connection counts",
      };
}

/**
 * Starts the sentinel: resolves the allowed names (one that does not resolve is an error), installs the rules
 * (block mode: fails when it cannot) and starts the monitor, returning once it is ready (and, with disable-sudo,
 * once the job's user has no sudo left). The monitor is started first — by the action's entry before the action's
 * code loaded (launchMonitor), or here: its Node start, the longest part, overlaps the checks and the rules; it
 * waits for its config file to begin, and ends if this step fails before.
 */
export async function startSentinel(
  config: SentinelConfig,
  options: { entryScript: string; tempDir: string },
): Promise<{ state: SentinelState; secret: string; token: string }> {
  const { privilege, marker, secret, dir, monitor, tables } = await monitorFor(options);
  // The tables this run put in (never another sentinel's of the same job), removed when the start fails.
  const installed: { rules?: Privilege } = {};
  try {
    checkLockdown(config);
    const plan = await prepare(config, privilege, marker, dir, tables, installed);
    const { state, rules } = plan;
    // The tables as installed, read while the monitor starts (block mode reads them once its rules are in).
    const reading = rules && config.mode === 'audit' ? readRules(rules, state.devices) : undefined;
    // Made while the monitor readies (its HMAC loads node:crypto): the post step's entry sends it as it is.
    const token = stopToken(secret, marker);
    await waitUntilReady(state, monitor, rules);
    if (plan.monitorDns.dns) plan.ruleOptions.dns = useForwarder(state, plan.upstream);
    if (rules) {
      if (config.mode === 'block')
        await installRuleset(rules, plan.script({ ...plan.ruleOptions, devices: state.devices }));
      if (state.dns) state.dns.before = await pointResolver(state, rules);
      const [tables, legacy] = await (reading ?? readRules(rules, state.devices));
      [state.ruleset, state.rawAtStart, state.legacy] = [tables.ruleset, tables.raw, legacy];
      if (config.mode === 'block') state.allowSets = await readAllowSets(rules);
    }
    if (config.disableSudo && privilege) await lockDownJob(state, secret);
    return { state, secret, token };
  } catch (error) {
    // The monitor waits for its config: with the directory gone it ends without watching anything.
    rmSync(dir, { recursive: true, force: true });
    // The entry's tables, in while a check failed, go too ("installed" there means this run created them).
    const mine = installed.rules ?? (tables && (await tables.installed) ? privilege : undefined);
    if (mine) await removeRuleset(mine);
    throw error;
  }
}

/**
 * The monitor and this run's marker, secret and directory: the one the entry launched when it did (as root, or
 * through sudo that has now shown it works by exiting 0), else one started here. A launch through sudo that failed
 * answers what `sudo -n true` would: this step cannot start the monitor as root, so it has no privilege to use.
 */
async function monitorFor(options: { entryScript: string; tempDir: string }): Promise<{
  privilege: Privilege | undefined;
  marker: string;
  secret: string;
  dir: string;
  monitor: Monitor;
  tables?: EarlyTables;
}> {
  const launched = adoptLaunchedMonitor(options.tempDir);
  const code = launched?.prefix.length ? await exitCode(launched.monitor, 10_000) : 0;
  if (launched && code === 0) return { ...launched, privilege: { prefix: launched.prefix } };
  // Not usable (no sudo for the monitor): sudo may still have let nft through, whose tables nothing would remove.
  if (launched?.tables && (await launched.tables.installed)) removeEarlySync(launched.tables, launched.dir);
  if (launched) rmSync(launched.dir, { recursive: true, force: true });
  const privilege = launched && code !== null ? undefined : await findPrivilege();
  const marker = randomHex(8);
  // Only whoever holds it can stop the monitor: main (here) and the post step (the runner's saved state).
  const secret = randomHex(32);
  const dir = join(options.tempDir, `egress-sentinel-${marker}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const monitor = spawnMonitor(privilege?.prefix ?? [], options.entryScript, join(dir, 'config.json'), secret);
  return { privilege, marker, secret, dir, monitor };
}

/**
 * How a start through sudo ended (`sudo -n setsid -f` exits once the monitor is detached, or at once without sudo);
 * null after `timeoutMs`. The spawned process is unreferenced (the monitor outlives this step): a timer keeps the
 * step alive meanwhile.
 */
async function exitCode(monitor: Monitor, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  const code = await Promise.race([monitor.exited, timeout]);
  clearTimeout(timer);
  return code;
}

/** The tables as installed, each interface's raw-frame counter then, and iptables-legacy's rules. */
const readRules = (rules: Privilege, devices: readonly string[]) =>
  Promise.all([readTables(rules, devices), legacyRules(rules)]);

/** Everything before the monitor may begin: the checks, the names, the first rules, the monitor's config file. */
async function prepare(
  config: SentinelConfig,
  privilege: Privilege | undefined,
  marker: string,
  dir: string,
  early: EarlyTables | undefined,
  installed: { rules?: Privilege },
) {
  const [nft, conntrack] = privilege ? [onPath('nft'), onPath('conntrack')] : [false, false];
  checkCapabilities(config, privilege, nft);
  const method: Method = nft && conntrack ? 'conntrack' : 'proc-poll';
  const { upstream, dnsServers, monitorDns } = dnsPlan(config);
  const resolved = await resolveHosts(config.entries);
  checkResolved(config, resolved);
  const ruleOptions: RulesetOptions = {
    mode: config.mode,
    allowLoopback: config.allowLoopback,
    marker,
    devices: interfaces(),
    dhcpServers: dhcpServers(),
    onlink6: onlinkPrefixes6(),
  };
  const hosts = new Map(Object.entries(resolved));
  const script = (options: RulesetOptions) =>
    rulesetScript(options, allowElements(config.entries, hosts, dnsServers, options.dhcpServers, options.onlink6));
  const rules = privilege && nft ? privilege : undefined;
  // First only tracking (the monitor's probe, to loopback, must get through even with allow-loopback off); the
  // whole rule set replaces it atomically once the monitor listens.
  const raw = rules
    ? await installFirst(rules, { ...ruleOptions, mode: 'audit' }, script, early)
    : { devices: [], rawNote: 'not filtered: no root or passwordless sudo for nftables' };
  installed.rules = rules;
  const state: SentinelState = {
    marker,
    dir,
    configPath: join(dir, 'config.json'),
    snapshotPath: join(recordDir(privilege, dir, marker), 'snapshot.json'),
    pid: 0,
    method,
    methodNote: methodNote(method, privilege, nft),
    privilege: privilege ? [...privilege.prefix] : undefined,
    config,
    devices: raw.devices,
    rawNote: raw.rawNote,
    exceptions: config.mode === 'block' ? sentinelExceptions({ ...ruleOptions, devices: raw.devices }) : [],
    dnsServers,
    resolved,
    startedAt: new Date().toISOString(),
    ...scopeOf(config, method),
  };
  const lockdown = privilege !== undefined;
  writeMonitorConfig(state, { resolved, marker, rules: rules !== undefined, lockdown, dns: monitorDns.dns });
  return { state, rules, ruleOptions, script, upstream, monitorDns };
}

/**
 * DNS in this run: with the forwarder (block mode, allowed-names-only, names listed) the job reaches DNS only
 * through it, so the system's resolvers are not opened on port 53 (`allow-dns` has nothing to open); else as before.
 */
function dnsPlan(config: SentinelConfig) {
  if (!usesForwarder(config)) {
    const servers = dnsServersFrom(readText('/etc/resolv.conf'), readText('/run/systemd/resolve/resolv.conf'));
    return { upstream: [], dnsServers: config.allowDns ? servers : [], monitorDns: {} };
  }
  const upstream = forwarderUpstream();
  const dns = { addresses: FORWARDER_ADDRESSES, upstream, entries: config.entries, graceSeconds: GRACE_SECONDS };
  return { upstream, dnsServers: [], monitorDns: { dns } };
}

/** Once the monitor is ready: where its forwarder listens, in the state, the report's exceptions and the rules. */
function useForwarder(state: SentinelState, upstream: string[]) {
  const forwarder = readSnapshot(state.snapshotPath)?.dns?.forwarder ?? FORWARDER_ADDRESSES[0]!;
  state.dns = { forwarder, upstream };
  state.dnsServers = [forwarder, ...upstream];
  state.exceptions.push(
    `DNS only through the sentinel's forwarder (${forwarder} port 53, UDP and TCP), which answers allowed names only and asks ${upstream.join(', ')} (port 53, root's sockets only)`,
  );
  return { forwarder, upstream };
}

/** The resolvers the forwarder asks (resolv.conf's, or systemd-resolved's upstream behind its stub); none is an error. */
function forwarderUpstream(): string[] {
  const upstream = upstreamServers(readText('/etc/resolv.conf'), readText('/run/systemd/resolve/resolv.conf'));
  if (upstream.length === 0)
    throw new UserError(
      'Input "dns-policy": allowed-names-only needs a DNS server to forward to, and /etc/resolv.conf names none (nor does systemd-resolved); fix the runner\'s resolver or use dns-policy: any',
    );
  return upstream;
}

/** Points the job's resolver at the forwarder; on failure ends the monitor and removes the rules, and says why. */
async function pointResolver(state: SentinelState, rules: Privilege) {
  try {
    return await pointResolverAt(rules, state.dns!.forwarder);
  } catch (error) {
    if (isMonitorAlive(state)) await signalMonitor(state, 'KILL');
    await removeRuleset(rules);
    throw new UserError(`egress-sentinel could not start its DNS forwarder: ${(error as Error).message}`);
  }
}

/** The job, as the main step sees it: its parent (the runner, or the CLI), its user and its cgroup. */
function jobScope(): JobScope {
  const cgroup = cgroupOf('self');
  return { rootPid: process.ppid, uid: process.getuid?.() ?? 0, ...(cgroup ? { cgroup } : {}) };
}

/** What the monitor is told (a JSON file it reads once, at its start, before any later step runs). */
function writeMonitorConfig(
  state: SentinelState,
  facts: {
    resolved: Record<string, string[]>;
    marker: string;
    rules: boolean;
    lockdown: boolean;
    dns?: MonitorConfig['dns'];
  },
) {
  const { config } = state;
  const monitorConfig: MonitorConfig = {
    snapshotPath: state.snapshotPath,
    method: state.method,
    mode: config.mode,
    privilege: { prefix: [] },
    entries: config.entries,
    resolved: facts.resolved,
    resolveIntervalMs: config.resolveIntervalMs ?? 30_000,
    pollIntervalMs: POLL_INTERVAL_MS,
    requestDir: state.dir,
    marker: facts.marker,
    ...(dirname(state.snapshotPath) !== state.dir ? { recordDir: dirname(state.snapshotPath) } : {}),
    ...(facts.rules ? { finish: { devices: state.devices, allowSets: config.mode === 'block' } } : {}),
    ...(config.disableSudo && facts.lockdown
      ? {
          lockdown: {
            user: userInfo().username,
            uid: process.getuid?.() ?? -1,
            containers: config.disableContainers === true,
            marker: facts.marker,
          },
        }
      : {}),
    ...(state.scope === 'job' ? { job: jobScope() } : {}),
    ...(facts.dns ? { dns: facts.dns } : {}),
  };
  // Renamed into place: the monitor, waiting for it, never reads half of it.
  writeFileSync(`${state.configPath}.tmp`, JSON.stringify(monitorConfig));
  renameSync(`${state.configPath}.tmp`, state.configPath);
}

/**
 * disable-sudo: asks the root monitor to take the job's user's sudo (and container sockets) away, then checks as
 * that user that it is gone. When it is not, the sentinel is stopped (which gives everything back) and the step fails.
 */
async function lockDownJob(state: SentinelState, secret: string): Promise<void> {
  sendLock(state.dir);
  const snapshot = await waitForSnapshot(
    state.snapshotPath,
    (found) => found.lockdown !== undefined,
    () => !isMonitorAlive(state),
    15_000,
  );
  const record = snapshot?.lockdown;
  const problems = record ? [...record.problems] : ['the monitor did not answer within 15s'];
  if (record?.sudoers) problems.push(...(await stillPrivileged(state.config.disableContainers === true)));
  if (problems.length === 0) {
    state.lockdown = { sudoers: record!.sudoers, sockets: record!.sockets.map((socket) => socket.path) };
    return;
  }
  sendStop(state.dir, stopToken(secret, state.marker));
  await waitForSnapshot(
    state.snapshotPath,
    (found) => found.stopped,
    () => !isMonitorAlive(state),
    10_000,
  );
  throw new UserError(
    `Input "disable-sudo": the job's user could not be locked out (${problems.join('; ')}); the sentinel was stopped and everything it changed given back`,
  );
}

function methodNote(method: Method, privilege: Privilege | undefined, nft: boolean): string | undefined {
  if (method === 'conntrack') return undefined;
  if (!privilege) return 'no root or passwordless sudo for connection tracking';
  return nft
    ? 'conntrack is not installed (sudo apt-get install -y conntrack)'
    : 'nft is not installed (sudo apt-get install -y nftables)';
}

/** Waits (by file events) until the monitor's snapshot says it is ready; on failure removes the rules. */
async function waitUntilReady(state: SentinelState, monitor: Monitor, rules: Privilege | undefined): Promise<void> {
  const { child, status } = monitor;
  // Through sudo, the process spawned (setsid -f) ends at once; the monitor's pid is the one in its snapshot.
  const failedToSpawn = () => status.exited && (!status.viaSudo || status.code !== 0);
  const snapshot = await waitForSnapshot(state.snapshotPath, (found) => found.ready, failedToSpawn, 15_000);
  state.pid = snapshot?.pid ?? (status.viaSudo ? 0 : (child.pid ?? 0));
  if (snapshot?.ready && snapshot.errors.length === 0) return;
  const problem = snapshot?.ready
    ? snapshot.errors.join('; ')
    : failedToSpawn()
      ? `ended before it was ready (exit code ${status.code})`
      : 'did not become ready within 15s';
  if (state.pid && isMonitorAlive(state)) await signalMonitor(state, 'KILL');
  if (rules) await removeRuleset(rules);
  throw new UserError(`egress-sentinel could not start its monitor (pid ${state.pid}): ${problem}`);
}

/** Signals the monitor, through sudo when it runs as root and this step does not. */
export async function signalMonitor(state: Pick<SentinelState, 'pid' | 'privilege'>, signal: 'TERM' | 'KILL') {
  if (!state.privilege?.length) return void process.kill(state.pid, `SIG${signal}`);
  await runCommand({ prefix: state.privilege }, 'kill', [`-${signal}`, String(state.pid)]);
}
