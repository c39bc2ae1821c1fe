/**
 * The sentinel's nftables tables as text: their names, the audit-mode tables and the raw-frame table, and the
 * scripts that install or remove them. No imports: egress-sentinel's entry installs the first (audit) tables from
 * here before the action's code loads (launch.ts); block mode adds its sets and rules through nft.ts.
 */

/** The sentinel's own nftables table; nothing else in the ruleset is touched. */
export const TABLE = 'deploy_gates_egress';
export const TABLE_REF = `inet ${TABLE}`;
/** Its raw-frame table (netdev egress hooks), where the kernel has them. */
export const RAW_TABLE = `${TABLE}_raw`;
/** Set by the sentinel's postrouting chain on every packet that went through its rules: a raw frame lacks it. */
export const PASSED_MARK = '0x10000000';

export interface TableOptions {
  mode: 'audit' | 'block';
  /** Written into the table's comment: the table the post step finds must be this one. */
  marker: string;
  /** Interfaces whose raw frames are filtered by a netdev egress hook (none: not filtered). */
  devices?: readonly string[];
  /** The DHCPv4 servers of this machine's leases (raw DHCP frames may go to them and to broadcast). */
  dhcpServers?: readonly string[];
}

/** What block mode adds to the tables: its sets, its rules per hook (after the tracking rule), its set elements. */
export interface BlockParts {
  sets: readonly string[];
  rules: (hook: 'output' | 'forward') => string[];
  elements: readonly string[];
}

/** Declaring a table before deleting it makes the delete succeed whether or not it was there: one transaction. */
export const REMOVE_SCRIPT = `table ${TABLE_REF}\ndelete table ${TABLE_REF}\ntable netdev ${RAW_TABLE}\ndelete table netdev ${RAW_TABLE}\n`;

/** The comment each of the sentinel's tables carries: the table the post step finds must be this run's. */
const comment = (marker: string) => `comment "deploy-gates egress-sentinel ${marker}"`;

/**
 * The script that installs `tables` (see tablesScript). `fresh`: only where the tables are not there yet — `create`
 * fails the whole transaction when one is (a crashed job's, an earlier phase's), and the caller then replaces them;
 * a table created that way keeps the comment it was created with, so the marker goes with the `create`. Else the old
 * tables are deleted in the same transaction, so connections are tracked without a gap. Deleting costs the kernel a
 * wait for its readers (about 15 ms here), which a fresh install does not pay.
 */
export function installScript(tables: string, fresh?: { marker: string }): string {
  if (!fresh) return `${REMOVE_SCRIPT}${tables}`;
  const create = (table: string) => `create table ${table} { ${comment(fresh.marker)}; }\n`;
  const raw = tables.includes(`table netdev ${RAW_TABLE} {`) ? create(`netdev ${RAW_TABLE}`) : '';
  return `${create(TABLE_REF)}${raw}${tables}`;
}

/**
 * The raw-frame table: a netdev egress hook on each interface that lets through what went through the sentinel's
 * own rules (marked by its postrouting chain), ARP, and DHCPv4 clients' raw frames to broadcast or the lease's
 * server; anything else (a frame written to an AF_PACKET socket) is counted, and dropped in block mode.
 */
function rawTable(options: TableOptions): string[] {
  const devices = options.devices ?? [];
  if (devices.length === 0) return [];
  const servers = ['255.255.255.255', ...(options.dhcpServers ?? [])].join(', ');
  return [
    `table netdev ${RAW_TABLE} {`,
    `  ${comment(options.marker)}`,
    ...devices.flatMap((device, index) => [
      `  counter raw${index} { }`,
      `  chain egress${index} {`,
      `    type filter hook egress device ${JSON.stringify(device)} priority filter; policy accept;`,
      `    meta mark & ${PASSED_MARK} == ${PASSED_MARK} accept`,
      '    ether type arp accept',
      `    ether type ip udp sport 68 udp dport 67 ip daddr { ${servers} } accept`,
      `    counter name "raw${index}"${options.mode === 'block' ? ' drop' : ''}`,
      '  }',
    ]),
    '}',
  ];
}

/**
 * The sentinel's tables. In both modes the inet table makes the kernel track every new connection (a `ct state new`
 * rule: without one a network namespace may not track connections at all, and conntrack reports nothing), and marks
 * what passed its rules for the raw-frame table; block mode adds its parts (see nft.ts's rulesetScript).
 */
export function tablesScript(options: TableOptions, block?: BlockParts): string {
  const chain = (hook: 'output' | 'forward' | 'postrouting', rules: string[]) => [
    `  chain ${hook} {`,
    `    type filter hook ${hook} priority filter; policy accept;`,
    ...rules.map((rule) => `    ${rule}`),
    '  }',
  ];
  const tracked = (hook: 'output' | 'forward') => chain(hook, ['ct state new counter', ...(block?.rules(hook) ?? [])]);
  return [
    `table ${TABLE_REF} {`,
    `  ${comment(options.marker)}`,
    ...(block?.sets ?? []),
    ...tracked('output'),
    ...tracked('forward'),
    ...chain('postrouting', [`meta mark set meta mark | ${PASSED_MARK}`]),
    '}',
    ...rawTable(options),
    ...(block?.elements ?? []),
    '',
  ].join('\n');
}
