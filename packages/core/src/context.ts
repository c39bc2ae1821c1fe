import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger, type Logger } from './logger.js';
import { Redactor } from './redact.js';

/**
 * What every core operation may use besides its typed input: where progress goes, which secrets to mask in
 * what it writes, and the clock. One shape for all of core, so an action (or a test) builds it once and passes
 * it to whatever it calls; tests replace the clock to run waits and timings without waiting.
 */
export interface CoreContext {
  logger: Logger;
  redactor: Redactor;
  /** Milliseconds, for durations and ages (Date.now by default). */
  now: () => number;
  /** Waits `ms`; a wait given `signal` ends early, without an error, when it aborts (a cancelled job). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A full context from the parts given; the rest silent, empty or real. */
export function coreContext(parts: Partial<CoreContext> = {}): CoreContext {
  return {
    logger: parts.logger ?? silentLogger,
    redactor: parts.redactor ?? new Redactor(),
    now: parts.now ?? Date.now,
    // An aborted wait resolves: the caller looks at its signal (a timer left running would keep the process alive).
    sleep:
      parts.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined)),
  };
}
