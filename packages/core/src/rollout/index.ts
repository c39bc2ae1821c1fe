/** Ordered rollouts of several services (release-services): run, report facts, the summary table. */
export { renderRolloutTable } from './markdown.js';
export { rolloutReportFacts } from './report.js';
export {
  ROLLBACK_BUDGET_MS,
  rollbackOrderOf,
  rolloutServices,
  type RolloutConfig,
  type RolloutOutcome,
  type ServiceRecord,
  type ServiceSpec,
} from './run.js';
