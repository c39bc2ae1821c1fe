import type { RenderedOutcome } from '../report/rendered.js';
import type { SentinelConfig, SentinelState } from './sentinel-state.js';

export const TITLE = 'Egress sentinel';

/** The main step's summary once the sentinel watches: the monitor, the mode, the allow-list, raw frames, scope, sudo. */
export function renderStart(config: SentinelConfig, state: SentinelState): RenderedOutcome {
  const rules = state.ruleset !== undefined ? `, rules installed (${config.mode})` : '';
  return {
    title: TITLE,
    results: [
      { name: 'Monitor', status: 'pass', detail: `started (pid ${state.pid}), ${state.method}${rules}`, durationMs: 0 },
    ],
    facts: [
      ['Mode', config.mode],
      ['Allowed', config.entries.map((entry) => entry.text).join(', ')],
      ['Raw frames', state.rawNote],
      ['Scope', state.scopeNote ? `${state.scope} (${state.scopeNote})` : state.scope],
      ['Sudo', sudoFact(config, state)],
    ],
    verdict: `watching every new connection until a step with stop: true, or the post step (${state.method})`,
  };
}

function sudoFact(config: SentinelConfig, state: SentinelState): string {
  if (state.lockdown) {
    const closed = state.lockdown.sockets.length ? `; closed: ${state.lockdown.sockets.join(', ')}` : '';
    return `taken from the job's user until the sentinel stops${closed}`;
  }
  return config.disableSudo
    ? "disable-sudo: the job's user has no passwordless sudo to take away"
    : 'left to the job (disable-sudo: false)';
}
