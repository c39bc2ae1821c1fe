/** branch-protection-audit's domain: policy, effective protection, judging, rendering and SARIF. */
export * from './audit.js';
export * from './policy.js';
export * from './render.js';
export * from './sarif.js';
export type { Links } from './finding.js';
