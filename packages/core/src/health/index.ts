/** The retry loop of health-retry and its configuration. */
export { displayUrl, waitAfter, worstCaseMs, type Backoff, type HealthConfig, type SloConfig } from './config.js';
export { runHealthCheck, type AttemptRecord, type EndpointReport, type HealthOutcome, type SloReport } from './run.js';
