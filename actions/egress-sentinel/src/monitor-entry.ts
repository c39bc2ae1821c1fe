import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '#core/errors.js';

/**
 * The file the monitor is started from: the monitor bundle beside this one (dist/egress-sentinel/monitor.js), found
 * from this bundle's own path, not `process.argv[1]` (under @github/local-action that is local-action's own entry).
 * Run from source, the built bundle is used.
 */
export function monitorEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const bundle = here.endsWith('.js')
    ? join(dirname(here), 'monitor.js')
    : resolve(dirname(here), '../../../dist/egress-sentinel/monitor.js');
  if (existsSync(bundle)) return bundle;
  throw new UserError(
    `egress-sentinel cannot start its monitor: ${bundle} is missing; build it first (node scripts/build.mjs --only egress-sentinel)`,
  );
}
