import { readFileSync } from 'node:fs';
import { runCommand, type Privilege } from './privilege.js';

/**
 * Whether this network namespace has no iptables-legacy table at all (the kernel lists them in
 * /proc/net/ip{,6}_tables_names, readable by root): then there is no legacy rule, and no tool need run.
 */
function noLegacyTables(): boolean {
  try {
    return ['ip_tables_names', 'ip6_tables_names'].every((name) => {
      try {
        return readFileSync(`/proc/net/${name}`, 'utf8').trim() === '';
      } catch (error) {
        // Missing: the legacy module is not loaded, so no table can exist; unreadable (not root): unknown.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
        throw error;
      }
    });
  } catch {
    return false;
  }
}

/** iptables-legacy's rules (IPv4 and IPv6, without counters), which `nft monitor` does not see; '' without it. */
export async function legacyRules(privilege: Privilege): Promise<string> {
  if (noLegacyTables()) return '';
  const saves = await Promise.all(
    ['iptables-legacy-save', 'ip6tables-legacy-save'].map((tool) => runCommand(privilege, tool, [])),
  );
  return saves
    .filter((save) => save.code === 0)
    .flatMap((save) => save.stdout.split('\n'))
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');
}
