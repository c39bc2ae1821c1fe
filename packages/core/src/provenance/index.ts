/** Provenance: the bundle was built by the expected workflow of the expected repository, at the expected commit. */
export {
  checkProvenance,
  describeProvenance,
  type AttestationSource,
  provenanceHook,
  type ProvenanceHook,
  type ProvenanceResult,
  type ProvenanceOptions,
} from './check.js';
export { ProvenanceRefused, type RefusalReason } from './errors.js';
export type { ProvenanceExpectations, VerifiedBuild } from './identity.js';
export { DEFAULT_ROOTS, readRootFiles, type RootSource } from './trust.js';
export type { ProvenanceFacts } from './verify.js';
