import { z } from 'zod';
import { once } from '../lazy.js';
import { ProvenanceRefused } from './errors.js';

/** The DSSE payload type of an in-toto statement, the statement type and SLSA provenance v1's predicate type. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

/** Built on first use (see ../lazy.ts): only a step that verifies provenance reads a statement. */
const statementSchema = once(() =>
  z.object({
    _type: z.string(),
    subject: z.array(z.object({ name: z.string().optional(), digest: z.record(z.string(), z.string()) })).min(1),
    predicateType: z.string(),
  }),
);

export interface Statement {
  predicateType: string;
  /** The subject whose SHA-256 is the bundle's. */
  subjectName?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The in-toto statement of a DSSE envelope — the very payload bytes whose signature was verified — checked: an
 * in-toto v1 statement, one of whose subjects has the bundle's SHA-256, with SLSA provenance v1 as its predicate.
 */
export function checkStatement(payloadType: string, payload: Uint8Array, sha256: string): Statement {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw new ProvenanceRefused(
      'not-an-attestation',
      `the signed payload is ${JSON.stringify(payloadType)}, not an in-toto statement (${IN_TOTO_PAYLOAD_TYPE})`,
    );
  let parsed: z.infer<ReturnType<typeof statementSchema>>;
  try {
    parsed = statementSchema().parse(JSON.parse(utf8.decode(payload)));
  } catch {
    throw new ProvenanceRefused('not-an-attestation', 'the signed payload is not an in-toto statement with subjects');
  }
  if (parsed._type !== STATEMENT_V1)
    throw new ProvenanceRefused(
      'not-an-attestation',
      `the statement's _type is ${JSON.stringify(parsed._type)}, not ${STATEMENT_V1}`,
    );
  const subject = parsed.subject.find((candidate) => candidate.digest.sha256?.toLowerCase() === sha256);
  if (!subject) {
    const listed = parsed.subject
      .slice(0, 3)
      .map((candidate) => `${JSON.stringify(candidate.name ?? '')} sha256:${candidate.digest.sha256 ?? '(none)'}`);
    const more = parsed.subject.length > 3 ? ` and ${parsed.subject.length - 3} more` : '';
    throw new ProvenanceRefused(
      'subject-digest',
      `the attestation is not for this bundle: its subjects are ${listed.join(', ')}${more}, none with the bundle's SHA-256 ${sha256}`,
    );
  }
  if (parsed.predicateType !== SLSA_PROVENANCE_V1)
    throw new ProvenanceRefused(
      'predicate-type',
      `the attestation's predicate type is ${JSON.stringify(parsed.predicateType)}, not SLSA provenance v1 (${SLSA_PROVENANCE_V1})`,
    );
  return { predicateType: parsed.predicateType, subjectName: subject.name };
}
