import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { config } from 'zod';
import type { DefinedAction } from './define.js';
import { protocolRunner } from './protocol-runner.js';

/**
 * The start of an action's bundle (actions/<name>/src/index.ts). Started by the runner (`node dist/<name>/index.js`),
 * it runs the action through the protocol runner. Imported by anything else — @github/local-action, which imports
 * the entry and then calls its exported `run()` — it runs nothing by itself, so the action runs once, through
 * @actions/core (which local-action replaces with its stubs).
 */
export async function startWhenRunDirectly(action: DefinedAction, entryUrl: string): Promise<void> {
  if (!isStartedFile(entryUrl)) return;
  // A step parses each schema once or a few times: zod's JIT (a `new Function` compiled per object schema on its
  // first parse) costs more than it saves there — about a third of a bundle's start (README, Benchmarks, Cold start).
  config({ jitless: true });
  await action.run(protocolRunner);
}

function isStartedFile(entryUrl: string): boolean {
  const started = process.argv[1];
  if (!started) return false;
  try {
    return realpathSync(started) === realpathSync(fileURLToPath(entryUrl));
  } catch {
    return false;
  }
}
