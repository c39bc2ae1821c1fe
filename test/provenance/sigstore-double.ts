import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { bundleToJSON, toDSSEBundle, type Bundle } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { initializeCA, initializeCTLog, initializeTLog, initializeTSA } from '@sigstore/mock';

/**
 * A Sigstore instance of our own, offline: a Fulcio-like CA (@sigstore/mock) issuing leaf certificates with the
 * GitHub Actions OIDC extensions, a CT log for their SCTs, a Rekor-like log whose entries carry a signed entry
 * timestamp, an RFC 3161 timestamp authority, and the trusted_root.json naming all of them. `public-good` works
 * like Sigstore's public instance (CT log + Rekor), `github` like GitHub's (a timestamp authority, no logs).
 * The bundles it writes are verified by the real code path, @sigstore/verify included.
 */
export interface BuildClaims {
  issuer: string;
  signerWorkflow: string; // owner/repo/.github/workflows/build.yml@refs/heads/main
  repository: string; // owner/repo
  ref: string;
  sha: string;
}

export interface AttestOptions {
  sha256: string;
  subjectName?: string;
  predicateType?: string;
  claims?: Partial<BuildClaims>;
  /** Change the signed payload after signing (a tampered attestation). */
  tamper?: (payload: Buffer) => Buffer;
  /** Leave the timestamps (Rekor entry or RFC 3161) out. */
  noTimestamp?: boolean;
}

export interface SigstoreInstance {
  kind: 'public-good' | 'github';
  trustedRoot: Record<string, unknown>;
  attest(options: AttestOptions): Promise<Record<string, unknown>>;
}

const OID = {
  issuer: '1.3.6.1.4.1.57264.1.8',
  buildSignerUri: '1.3.6.1.4.1.57264.1.9',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  buildConfigUri: '1.3.6.1.4.1.57264.1.18',
};

export const DEFAULT_CLAIMS: BuildClaims = {
  issuer: 'https://token.actions.githubusercontent.com',
  signerWorkflow: 'octo-org/app/.github/workflows/build.yml@refs/heads/main',
  repository: 'octo-org/app',
  ref: 'refs/heads/main',
  sha: 'f0959baf5c2ab1b0d9d7d1a0ab4b1f3e2c6d7e8f',
};

/** The bytes of a Buffer or of the mock's ArrayBufferViews. */
const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
const b64 = (view: ArrayBufferView) => bytesOf(view).toString('base64');
const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

function statement(options: AttestOptions): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: options.subjectName ?? 'app.tar.gz', digest: { sha256: options.sha256 } }],
      predicateType: options.predicateType ?? 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://actions.github.io/buildtypes/workflow/v1' } },
    }),
  );
}

/** A trusted_root.json entry for a key (tlog or CT log). */
const logEntry = (url: string, publicKey: Buffer, keyId: Buffer, start: Date) => ({
  baseUrl: url,
  hashAlgorithm: 'SHA2_256',
  publicKey: {
    rawBytes: b64(publicKey),
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    validFor: { start: start.toISOString() },
  },
  logId: { keyId: b64(keyId) },
});

/** A Rekor dsse v0.0.1 entry for the envelope, with its signed entry timestamp. */
async function rekorEntry(tlog: Awaited<ReturnType<typeof initializeTLog>>, signature: Buffer, payload: Buffer) {
  const logged = await tlog.log({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      payloadHash: { algorithm: 'sha256', value: sha256(payload).toString('hex') },
      signatures: [{ signature: b64(signature) }],
    },
  });
  const entry = Object.values(logged)[0] as {
    body: string;
    integratedTime: number;
    logID: string;
    logIndex: number;
    verification: {
      signedEntryTimestamp: string;
      inclusionProof: { logIndex: number; treeSize: number; rootHash: string; hashes: string[]; checkpoint: string };
    };
  };
  const proof = entry.verification.inclusionProof;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: b64(Buffer.from(entry.logID, 'hex')) },
    kindVersion: { kind: 'dsse', version: '0.0.1' },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(proof.logIndex),
      rootHash: b64(Buffer.from(proof.rootHash, 'hex')),
      treeSize: String(proof.treeSize),
      hashes: proof.hashes,
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: entry.body,
  };
}

/**
 * A Sigstore instance whose clock reads `now` (certificates valid for ten minutes from it); its log and timestamp
 * authority read `now + timestampDelayMs` (a signature timestamped after its certificate expired).
 */
export async function sigstoreInstance(
  kind: SigstoreInstance['kind'],
  // A minute ahead (the mock's root certificates start at the real now, which must not be after the signing time), in
  // whole seconds (@sigstore/core reads no fractional seconds in a timestamp's time).
  {
    now = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000),
    timestampDelayMs = 0,
  }: { now?: Date; timestampDelayMs?: number } = {},
): Promise<SigstoreInstance> {
  const stamped = new Date(now.getTime() + timestampDelayMs);
  const start = new Date(now.getTime() - 24 * 3600_000);
  const ctlog = kind === 'public-good' ? await initializeCTLog(keyPair(), now) : undefined;
  const ca = await initializeCA(keyPair(), ctlog, now);
  const tlogKeys = keyPair();
  const tlog = kind === 'public-good' ? await initializeTLog('https://rekor.test', tlogKeys, stamped) : undefined;
  const tsa = kind === 'github' ? await initializeTSA(keyPair(), stamped) : undefined;
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: tlog
      ? [logEntry('https://rekor.test', spki(tlogKeys.publicKey), sha256(spki(tlogKeys.publicKey)), start)]
      : [],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: `https://fulcio.${kind}.test`,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start: start.toISOString() },
      },
    ],
    ctlogs: ctlog ? [logEntry('https://ctfe.test', ctlog.publicKey, bytesOf(ctlog.logID), start)] : [],
    timestampAuthorities: tsa
      ? [
          {
            subject: { organization: 'sigstore.mock', commonName: 'tsa' },
            uri: 'https://tsa.test',
            certChain: {
              certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }],
            },
            validFor: { start: start.toISOString() },
          },
        ]
      : [],
  };

  async function attest(options: AttestOptions): Promise<Record<string, unknown>> {
    const claims = { ...DEFAULT_CLAIMS, ...options.claims };
    const leafKeys = keyPair();
    const certificate = await ca.issueCertificate({
      publicKey: spki(leafKeys.publicKey),
      subjectAltName: `https://github.com/${claims.signerWorkflow}`,
      extensions: [
        { oid: OID.issuer, value: claims.issuer },
        { oid: OID.buildSignerUri, value: `https://github.com/${claims.signerWorkflow}` },
        { oid: OID.sourceRepositoryUri, value: `https://github.com/${claims.repository}` },
        { oid: OID.sourceRepositoryDigest, value: claims.sha },
        { oid: OID.sourceRepositoryRef, value: claims.ref },
        { oid: OID.buildConfigUri, value: `https://github.com/${claims.signerWorkflow}` },
      ],
    });
    const payloadType = 'application/vnd.in-toto+json';
    const payload = statement(options);
    const signature = sign('sha256', dsse.preAuthEncoding(payloadType, payload), leafKeys.privateKey);
    const bundle: Bundle = toDSSEBundle({
      artifact: options.tamper ? options.tamper(payload) : payload,
      artifactType: payloadType,
      signature,
      certificate: bytesOf(certificate),
    });
    if (!options.noTimestamp && tsa) {
      const response = await tsa.timestamp({
        artifactHash: sha256(signature),
        hashAlgorithmOID: '2.16.840.1.101.3.4.2.1',
        nonce: 42,
        policyOID: '1.3.6.1.4.1.57264.2',
        certReq: false,
      });
      bundle.verificationMaterial.timestampVerificationData = {
        rfc3161Timestamps: [{ signedTimestamp: bytesOf(response) }],
      };
    }
    // The Rekor entry is added in the JSON form (base64 strings), the form the mock log answers in.
    const json = bundleToJSON(bundle) as unknown as { verificationMaterial: { tlogEntries: unknown[] } };
    if (!options.noTimestamp && tlog)
      json.verificationMaterial.tlogEntries = [await rekorEntry(tlog, signature, payload)];
    return json as unknown as Record<string, unknown>;
  }
  return { kind, trustedRoot, attest };
}
