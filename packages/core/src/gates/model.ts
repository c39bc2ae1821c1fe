import { posix } from 'node:path';
import type { JsonAssertion } from '../http/expectations.js';
import { formatDuration } from '../units/duration.js';
import { oneLine } from '../text.js';

/**
 * Gates are read-only checks on a release directory. They are written as a YAML list, one mapping per gate,
 * whose kind is the key that names the path or command: `- file: artisan`, `- dir: storage` with `writable: true`, …
 * Every path is relative to the release directory and may not leave it.
 */
export type Gate =
  | { kind: 'file'; name: string; path: string; minSize?: number }
  | { kind: 'dir'; name: string; path: string; writable: boolean }
  | { kind: 'absent'; name: string; path: string }
  | { kind: 'symlink'; name: string; path: string; pointsTo?: string }
  | { kind: 'json'; name: string; path: string; expect: JsonAssertion[] }
  | { kind: 'command'; name: string; command: string; expectExit: number; expectOutput?: RegExp; timeoutMs?: number }
  | { kind: 'env-match'; name: string; file: string; key: string; secret: string }
  | { kind: 'backup-fresh'; name: string; maxAgeMs: number; backupsRoot: string; database?: string };

export type GateKind = Gate['kind'];

/** A gate before its name is filled in. */
export type GateDraft = Gate extends infer G
  ? G extends Gate
    ? Omit<G, 'name'> & { name?: string | undefined }
    : never
  : never;

export const GATE_KINDS: readonly GateKind[] = [
  'file',
  'dir',
  'absent',
  'symlink',
  'json',
  'command',
  'env-match',
  'backup-fresh',
];

/** A path inside the release directory: relative, normalized, not leaving it. */
export function releasePath(text: string): { value: string } | { problem: string } {
  const raw = text.trim();
  if (raw === '')
    return { problem: 'is empty; write a path relative to the release directory, e.g. vendor/autoload.php' };
  if (raw.startsWith('/') || raw.startsWith('~')) {
    return {
      problem: `"${raw}" is absolute; write it relative to the release directory (gates may not look outside the release)`,
    };
  }
  const normalized = posix.normalize(raw).replace(/\/+$/, '') || '.';
  if (normalized === '..' || normalized.startsWith('../')) {
    return {
      problem: `"${raw}" leaves the release directory through ".."; gates may only check paths inside the release`,
    };
  }
  return { value: normalized };
}

function defaultName(gate: GateDraft): string {
  switch (gate.kind) {
    case 'file':
      return `file ${gate.path}${gate.minSize !== undefined ? ` (≥ ${gate.minSize} bytes)` : ''}`;
    case 'dir':
      return `dir ${gate.path}${gate.writable ? ' (writable)' : ''}`;
    case 'absent':
      return `absent ${gate.path}`;
    case 'symlink':
      return `symlink ${gate.path}${gate.pointsTo ? ` → ${gate.pointsTo}` : ''}`;
    case 'json':
      return `json ${gate.path}`;
    case 'command':
      return `command ${oneLine(gate.command, 60)}`;
    case 'env-match':
      return `env-match ${gate.file} ${gate.key}`;
    case 'backup-fresh':
      return `backup-fresh${gate.database ? ` ${gate.database}` : ''} (max-age ${formatDuration(gate.maxAgeMs)})`;
  }
}

/** Fills in the defaults and the name of a gate. */
export function gate(partial: GateDraft): Gate {
  return { ...partial, name: partial.name ?? defaultName(partial) } as Gate;
}
