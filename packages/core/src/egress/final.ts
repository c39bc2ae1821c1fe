import { readAllowSets, readBlocked, readTables, removeRuleset, type BlockedDestination } from './nft.js';
import type { Privilege } from './privilege.js';
import { legacyRules } from './legacy-rules.js';

/** What the sentinel's tables held at the end (read just before they are removed), and whether they are gone. */
export interface FinalRules {
  /** The tables (normalized); undefined when the inet table was gone. */
  ruleset?: string;
  allowSets?: string;
  blocked: BlockedDestination[];
  raw: Record<string, number>;
  legacy: string;
  removed: boolean;
}

/**
 * Reads the tables, what block mode refused, the raw-frame counters and iptables-legacy's rules, then removes the
 * tables. The root monitor does this when it stops (the job's user may have no sudo left by then); a step with
 * privilege does it itself when the monitor did not (killed).
 */
export async function readAndRemoveRules(
  privilege: Privilege,
  options: { mode: 'audit' | 'block'; devices: readonly string[]; allowSets: boolean },
): Promise<FinalRules> {
  const found = await readRules(privilege, options);
  return { ...found, removed: await removeRuleset(privilege) };
}

/** The tables as readAndRemoveRules reads them, left in place (a checkpoint: `removed` is false). */
export async function readRules(
  privilege: Privilege,
  options: { mode: 'audit' | 'block'; devices: readonly string[]; allowSets: boolean },
): Promise<FinalRules> {
  const [{ ruleset, raw }, allowSets, blocked, legacy] = await Promise.all([
    readTables(privilege, options.devices),
    options.allowSets ? readAllowSets(privilege) : undefined,
    options.mode === 'block' ? readBlocked(privilege) : [],
    legacyRules(privilege),
  ]);
  return {
    ...(ruleset !== undefined ? { ruleset } : {}),
    ...(allowSets !== undefined ? { allowSets } : {}),
    blocked,
    raw,
    legacy,
    removed: false,
  };
}
