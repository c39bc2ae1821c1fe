import { z } from 'zod';
import { boolean, lines, optional, withDefault } from '#action-kit/inputs.js';
import { splitPair } from '#core/units/index.js';

const JOB_RESULTS = ['success', 'failure', 'cancelled', 'skipped'];

/** The inputs of deployment-ledger, keyed by their action.yml names, with the same defaults. */
export const deploymentLedgerInputs = {
  reports: lines((line) => ({ value: line })),
  'reports-dir': optional(),
  environment: optional(),
  sha: optional().refine((sha) => sha === undefined || /^[0-9a-f]{40}$/.test(sha), {
    message: 'must be a full 40-character commit SHA',
  }),
  'build-run-url': optional(),
  approver: optional(),
  'started-at': optional().refine((at) => at === undefined || Number.isFinite(Date.parse(at)), {
    message: 'must be an ISO 8601 time, e.g. 2025-11-02T15:49:00Z',
  }),
  jobs: lines<{ name: string; result: string }>((line) => {
    const pair = splitPair(line, '=');
    if (!pair) return { problem: `"${line}" is not name=result` };
    // A job that did not run leaves `${{ needs.x.result }}` empty: nothing to record.
    if (pair[1] !== '' && !JOB_RESULTS.includes(pair[1]))
      return { problem: `"${line}": the result must be one of ${JOB_RESULTS.join(', ')}` };
    return { value: { name: pair[0], result: pair[1] || 'skipped' } };
  }),
  'run-url': optional(),
  'ledger-path': optional(),
  'fail-on-no-go': withDefault('false', boolean()),
} satisfies Record<string, z.ZodType<unknown, string>>;
