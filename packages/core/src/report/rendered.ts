import type { ReportFacts } from './document.js';
import type { CheckResult } from './result.js';

/**
 * What a domain's render step makes of its outcome for the envelope: the summary's headline, rows and facts, what
 * the report document says besides the results, and the step's verdict or failure. An action returns it with its
 * outputs (action-kit's ActionResult has these fields), so the wording lives with the domain, not in main.ts.
 */
export interface RenderedOutcome {
  title: string;
  itemLabel?: string;
  results: readonly CheckResult[];
  facts?: readonly (readonly [string, string])[];
  report?: ReportFacts;
  verdict?: string;
  failure?: string;
}
