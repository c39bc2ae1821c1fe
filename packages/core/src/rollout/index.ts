/** release-services' domain: ordered rollout of several services, the coordinated rollback and its table. */
import type { rolloutServices as runRollout } from './run.js';

export * from './markdown.js';
export * from './order.js';
export * from './service-input.js';
export * from './services.js';
export * from './report.js';
export * from './render.js';
export type { HealthSummary, RolloutConfig, RolloutOutcome, ServiceRecord, ServiceSpec, ServiceState } from './run.js';

/**
 * Deploys the services in order (run.ts). The rollout machinery — release switching, gates, health checks and the
 * watch window — is loaded on first use: release-services reads its inputs with this domain's parsers before it
 * needs any of it, and a step stopped at an input error should not compile it (README, Cold start).
 */
export async function rolloutServices(...args: Parameters<typeof runRollout>): ReturnType<typeof runRollout> {
  return (await import('./run.js')).rolloutServices(...args);
}
