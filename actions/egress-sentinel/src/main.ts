import { join } from 'node:path';
import { z } from 'zod';
import { defineAction } from '#action-kit/index.js';
import { POLL_INTERVAL_MS, startSentinel, stopSentinel, type SentinelState } from '#core/egress/index.js';
import { egressSentinelInputs, toConfig } from './inputs.js';

const STATE = 'egress-sentinel';
const TITLE = 'Egress sentinel';

export const action = defineAction({
  name: 'egress-sentinel',
  stage: 'egress',
  inputs: egressSentinelInputs,
  outputs: z.object({ violations: z.string().regex(/^\d+$/) }).partial(),
  async main(inputs, context) {
    const config = toConfig(inputs);
    const tempDir = join(context.tempDir, 'deploy-gates');
    const state = await startSentinel(config, { entryScript: process.argv[1]!, tempDir });
    context.state.save(STATE, JSON.stringify(state));
    if (state.methodNote)
      context.logger.warning(
        `egress-sentinel polls /proc/net (${state.methodNote}): connections shorter than ${POLL_INTERVAL_MS}ms can be missed`,
      );
    return {
      title: TITLE,
      results: [
        {
          name: 'Monitor',
          status: 'pass',
          detail: `started (pid ${state.pid}), ${state.method}${state.ruleset !== undefined ? `, rules installed (${config.mode})` : ''}`,
          durationMs: 0,
        },
      ],
      facts: [
        ['Mode', config.mode],
        ['Allowed', config.entries.map((entry) => entry.text).join(', ') || '(nothing but DNS and loopback)'],
      ],
      verdict: `watching every new connection until the post step (${state.method})`,
    };
  },
  async post(inputs, context) {
    const config = toConfig(inputs);
    const saved = context.state.get(STATE);
    if (!saved) {
      // The main step failed before the sentinel started: nothing ran under it, and nothing is left to remove.
      const document = {
        version: 1,
        method: 'none',
        mode: config.mode,
        allowed: config.entries.map((entry) => ({ entry: entry.text })),
        violations: [],
        tampered: false,
        note: 'the sentinel did not start (see the main step)',
      };
      return {
        title: TITLE,
        results: [{ name: 'Monitor', status: 'skip', detail: 'not started (the main step failed)', durationMs: 0 }],
        report: { details: document },
        outputs: { violations: '0' },
      };
    }
    const { report: document, results, rulesRemoved } = await stopSentinel(JSON.parse(saved) as SentinelState, config);
    const count = document.violations.length;
    const failures = [
      ...(document.tampered ? [`tampering detected: ${document.tampering.join('; ')}`] : []),
      ...(!rulesRemoved ? ['the sentinel could not remove its nftables table inet deploy_gates_egress'] : []),
      ...(count > 0 && inputs['fail-on-violation'] ? [`${count} destination(s) outside the allow-list`] : []),
    ];
    return {
      title: TITLE,
      itemLabel: 'Destination',
      results,
      facts: [
        ['Method', document['method-note'] ?? document.method],
        ['Mode', config.mode],
        [
          'Allowed',
          document.allowed
            .map((item) =>
              item.addresses ? `${item.entry} (${item.addresses.join(', ') || 'unresolved'})` : item.entry,
            )
            .join(', ') || '(nothing but DNS and loopback)',
        ],
        ['Tampered', String(document.tampered)],
      ],
      report: { details: document },
      outputs: { violations: String(count) },
      verdict:
        count === 0
          ? 'only allowed endpoints were contacted'
          : `${count} destination(s) outside the allow-list (fail-on-violation is off)`,
      failure: failures.length > 0 ? `egress-sentinel: ${failures.join('; ')}` : undefined,
    };
  },
});

export const run = action.run;
