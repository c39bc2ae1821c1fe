import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { ASN1Obj, type X509Certificate } from '@sigstore/core';
import { toSignedEntity, Verifier, VerificationError, type SignedEntity } from '@sigstore/verify';
import { buildIdentity } from './certificate.js';
import { ProvenanceRefused, type RefusalReason } from './errors.js';
import { checkIdentity, type ProvenanceExpectations, type VerifiedBuild } from './identity.js';
import { checkStatement } from './statement.js';
import { rootsFor, type LoadedRoot } from './trust.js';

/** One Sigstore bundle to judge, and where it came from (for messages). */
export interface Candidate {
  label: string;
  json: unknown;
  /** Why there is no bundle to judge (GitHub served it only behind bundle_url). */
  unavailable?: string;
}

export interface ProvenanceFacts extends VerifiedBuild {
  /** The attestation that verified. */
  attestation: string;
  /** The trusted root its certificate chains to. */
  trustedRoot: string;
  /** Its verified timestamps: `Rekor entry 2026-…` or `RFC 3161 timestamp 2026-…`. */
  timestamps: string[];
  predicateType: string;
}

/** `O=…, CN=…` of a distinguished name given as its SEQUENCE's content (@sigstore/core's `issuer`), for messages. */
function nameOf(content: Buffer): string {
  const labels: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C' };
  const length = content.length < 0x80 ? [content.length] : [0x82, content.length >> 8, content.length & 0xff];
  try {
    return ASN1Obj.parseBuffer(Buffer.concat([Buffer.from([0x30, ...length]), content]))
      .subs.flatMap((set) => set.subs)
      .map(
        (pair) => `${labels[pair.subs[0]!.toOID()] ?? pair.subs[0]!.toOID()}=${pair.subs[1]!.value.toString('utf8')}`,
      )
      .join(', ');
  } catch {
    return 'an unreadable name';
  }
}

const CODE_REASONS: Record<string, [RefusalReason, string]> = {
  CERTIFICATE_ERROR: ['untrusted-certificate', 'the signing certificate is not trusted'],
  PUBLIC_KEY_ERROR: ['untrusted-certificate', 'the signing key is not trusted'],
  SIGNATURE_ERROR: ['signature', 'the signature does not match the attestation (it was changed after signing)'],
  TIMESTAMP_ERROR: ['timestamp', 'no trusted timestamp for the signature'],
  // The log entry records another envelope than the one in the bundle: the bundle was changed after it was logged.
  TLOG_BODY_ERROR: [
    'signature',
    'the attestation does not match its transparency log entry (it was changed after signing)',
  ],
};

function refusalOf(error: unknown, root: LoadedRoot): ProvenanceRefused {
  // A malformed part @sigstore/verify does not classify (an unreadable time, a broken structure) is refused too.
  if (!(error instanceof VerificationError))
    return new ProvenanceRefused(
      'not-an-attestation',
      `the bundle cannot be verified: ${(error as Error).message ?? String(error)} (trusted root ${root.name})`,
    );
  const cause = (error as { cause?: unknown }).cause;
  const detail = `${error.message}${cause instanceof Error ? ` (${cause.message})` : ''}; trusted root ${root.name}`;
  // The chain is checked at each verified timestamp: a certificate outside its ten minutes there was used too late.
  if (error.code === 'CERTIFICATE_ERROR' && /expired/.test(detail))
    return new ProvenanceRefused(
      'timestamp',
      `the signature's verified timestamp is outside the signing certificate's validity: ${detail}`,
    );
  const [reason, text] = CODE_REASONS[error.code] ?? [
    'transparency-log',
    'the transparency log entry does not prove the signature was logged',
  ];
  return new ProvenanceRefused(reason, `${text}: ${detail}`);
}

function parseBundle(candidate: Candidate): { bundle: Bundle; entity: SignedEntity; leaf: X509Certificate } {
  if (candidate.unavailable) throw new ProvenanceRefused('not-an-attestation', candidate.unavailable);
  let bundle: Bundle;
  let entity: SignedEntity;
  try {
    bundle = bundleFromJSON(candidate.json);
    entity = toSignedEntity(bundle);
  } catch (error) {
    const fields = (error as { fields?: string[] }).fields;
    throw new ProvenanceRefused(
      'not-an-attestation',
      `it is not a Sigstore bundle: ${(error as Error).message}${fields?.length ? ` (${fields.slice(0, 3).join(', ')})` : ''}`,
    );
  }
  if (bundle.content.$case !== 'dsseEnvelope')
    throw new ProvenanceRefused(
      'not-an-attestation',
      'it is a signature over a file, not an attestation (no DSSE envelope)',
    );
  if (entity.key.$case !== 'certificate')
    throw new ProvenanceRefused(
      'untrusted-certificate',
      'it is signed with a bare public key, not a Sigstore certificate naming the workflow',
    );
  return { bundle, entity, leaf: entity.key.certificate };
}

/** The signature, certificate chain and timestamps of one bundle against the roots its certificate's issuer is in. */
function verifySignature(entity: SignedEntity, leaf: X509Certificate, roots: LoadedRoot[]): LoadedRoot {
  const candidates = rootsFor(leaf, roots);
  if (candidates.length === 0)
    throw new ProvenanceRefused(
      'untrusted-certificate',
      `its certificate was issued by ${nameOf(leaf.issuer)}, which none of the trusted roots (${roots.map((root) => root.name).join(', ')}) holds`,
    );
  let refusal: ProvenanceRefused | undefined;
  for (const root of candidates) {
    try {
      new Verifier(root.material, root.options).verify(entity);
      return root;
    } catch (error) {
      refusal ??= refusalOf(error, root);
    }
  }
  throw refusal!;
}

function timestampsOf(entity: SignedEntity): string[] {
  return entity.timestamps.map((timestamp) =>
    timestamp.$case === 'transparency-log'
      ? `Rekor entry ${new Date(Number(timestamp.tlogEntry.integratedTime) * 1000).toISOString()}`
      : `RFC 3161 timestamp ${timestamp.timestamp.signingTime.toISOString()}`,
  );
}

/**
 * One attestation, all of it: a Sigstore bundle with a DSSE envelope; its signature, its certificate chain to a
 * trusted root and a verified timestamp (a Rekor entry with its inclusion, or an RFC 3161 timestamp) by
 * @sigstore/verify; the certificate's GitHub Actions identity against the expectations; and the signed statement —
 * subject digest the bundle's SHA-256, SLSA provenance v1.
 */
export function verifyAttestation(
  candidate: Candidate,
  sha256: string,
  roots: LoadedRoot[],
  expect: ProvenanceExpectations,
): ProvenanceFacts {
  const { bundle, entity, leaf } = parseBundle(candidate);
  const root = verifySignature(entity, leaf, roots);
  const build = checkIdentity(buildIdentity(leaf), expect);
  const envelope = (bundle.content as Extract<Bundle['content'], { $case: 'dsseEnvelope' }>).dsseEnvelope;
  const statement = checkStatement(envelope.payloadType, envelope.payload, sha256.toLowerCase());
  return {
    ...build,
    attestation: candidate.label,
    trustedRoot: root.name,
    timestamps: timestampsOf(entity),
    predicateType: statement.predicateType,
  };
}

/**
 * The first of several attestations (the API lists every one for a digest: provenance, SBOMs, other workflows')
 * that verifies completely; when none does, one error listing why each was refused.
 */
export function verifyAnyAttestation(
  candidates: Candidate[],
  sha256: string,
  roots: LoadedRoot[],
  expect: ProvenanceExpectations,
): ProvenanceFacts {
  if (candidates.length === 0) throw new ProvenanceRefused('no-attestation', 'there is no attestation to verify');
  const refusals: { label: string; refusal: ProvenanceRefused }[] = [];
  for (const candidate of candidates) {
    try {
      return verifyAttestation(candidate, sha256, roots, expect);
    } catch (error) {
      if (!(error instanceof ProvenanceRefused)) throw error;
      refusals.push({ label: candidate.label, refusal: error });
    }
  }
  if (refusals.length === 1)
    throw new ProvenanceRefused(refusals[0]!.refusal.reason, `${refusals[0]!.label}: ${refusals[0]!.refusal.message}`);
  const reasons = new Set(refusals.map(({ refusal }) => refusal.reason));
  throw new ProvenanceRefused(
    reasons.size === 1 ? refusals[0]!.refusal.reason : 'not-an-attestation',
    `none of the ${refusals.length} attestations verifies: ${refusals.map(({ label, refusal }) => `${label}: ${refusal.message}`).join('; ')}`,
  );
}
