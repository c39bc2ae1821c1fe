import { ASN1Obj, type X509Certificate } from '@sigstore/core';

/**
 * The GitHub Actions facts Fulcio writes into a signing certificate, from the workflow's OIDC token: the v2
 * extensions of Fulcio's OID registry (1.3.6.1.4.1.57264.1.8 and up, each a DER UTF8String;
 * https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). The deprecated v1 extensions (.2 – .6, raw
 * bytes) are not read: every certificate Fulcio issues for GitHub Actions carries the v2 ones.
 */
export const FULCIO_OID = {
  issuer: '1.3.6.1.4.1.57264.1.8',
  buildSignerUri: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  buildConfigUri: '1.3.6.1.4.1.57264.1.18',
  runInvocationUri: '1.3.6.1.4.1.57264.1.21',
} as const;

export type BuildIdentity = { -readonly [key in keyof typeof FULCIO_OID]?: string };

/** The OIDC issuer of GitHub Actions on github.com. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

const UTF8_STRING = 12;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One v2 extension's text; undefined when absent or not a UTF8String (a malformed one is never guessed at). */
function extensionText(cert: X509Certificate, oid: string): string | undefined {
  const extension = cert.extension(oid);
  if (!extension) return undefined;
  try {
    const value = ASN1Obj.parseBuffer(Buffer.from(extension.value));
    if (value.tag.number !== UTF8_STRING || value.subs.length > 0) return undefined;
    return utf8.decode(value.value);
  } catch {
    return undefined;
  }
}

/** The build identity of a signing certificate (only the extensions it carries). */
export function buildIdentity(cert: X509Certificate): BuildIdentity {
  const identity: BuildIdentity = {};
  for (const [key, oid] of Object.entries(FULCIO_OID) as [keyof typeof FULCIO_OID, string][]) {
    const text = extensionText(cert, oid);
    if (text !== undefined) identity[key] = text;
  }
  return identity;
}
