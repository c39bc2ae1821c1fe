import { UserError } from '../errors.js';

/**
 * Why an attestation was refused, one reason per class of mismatch, so a report (and a test) can tell a wrong
 * workflow from a forged signature without reading the sentence.
 */
export type RefusalReason =
  | 'no-attestation'
  | 'not-an-attestation'
  | 'untrusted-certificate'
  | 'signature'
  | 'timestamp'
  | 'transparency-log'
  | 'not-github-actions'
  | 'signer-workflow'
  | 'source-repository'
  | 'source-ref'
  | 'source-sha'
  | 'subject-digest'
  | 'predicate-type';

/** The bundle's provenance does not hold; the message names what was expected, what was found, and the fix. */
export class ProvenanceRefused extends UserError {
  override name = 'ProvenanceRefused';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}
