import { oneLine } from '../text.js';

/** Why a request got no HTTP answer, in the words an operator searches for. */
export type FailureKind =
  'timeout' | 'connection refused' | 'DNS failure' | 'TLS error' | 'connection reset' | 'redirect' | 'network error';

export interface RequestFailure {
  kind: FailureKind;
  message: string;
}

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|EPROTO|ERR_OSSL)/;

interface ErrorLink {
  code?: string;
  message?: string;
  name?: string;
  cert?: { subjectaltname?: string; subject?: { CN?: string } };
}

function errorChain(error: unknown): ErrorLink[] {
  const chain: ErrorLink[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && chain.length < 5) {
    chain.push(current as ErrorLink);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

const CUSTOM_CA = "set NODE_EXTRA_CA_CERTS to a PEM file holding the CA certificate in the step's env";

/**
 * The TLS failures an operator meets, each as one sentence: what is wrong and the fix. OpenSSL's own text
 * (with its source file names and a trailing newline) is only used, on one line, for the rare rest.
 */
function tlsSentence(code: string, url: URL | undefined, chain: ErrorLink[]): string | undefined {
  const host = url?.host ?? 'the server';
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `self-signed certificate at ${host}, not trusted: give the server a certificate from a trusted CA, or set NODE_EXTRA_CA_CERTS to a PEM file holding this certificate in the step's env`;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `the certificate chain of ${host} ends in a CA that is not trusted (a private CA?): ${CUSTOM_CA}`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return `the certificate of ${host} is signed by an unknown issuer: for a private CA, ${CUSTOM_CA}; for a public CA, the server must send its intermediate certificates too`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = chain.find((link) => link.cert)?.cert?.subjectaltname;
      const holds = names ? ` (it holds ${names})` : '';
      return `hostname mismatch: the certificate of ${host} is not valid for ${url ? url.hostname : 'the name in the URL'}${holds}: use a URL with a name the certificate holds, or reissue the certificate`;
    }
    case 'CERT_HAS_EXPIRED':
      return `the certificate of ${host} has expired (or this machine's clock is wrong): renew the certificate`;
    case 'CERT_NOT_YET_VALID':
      return `the certificate of ${host} is not valid yet (or this machine's clock is wrong)`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
    case 'ERR_SSL_HTTP_REQUEST':
      return `${host} answered plain HTTP to a TLS handshake: use http:// for that port, or the server's HTTPS port`;
    default: {
      // The server refused the handshake with an alert (`ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR`, `…_SSLV3_ALERT_HANDSHAKE_FAILURE`).
      const alert = /^ERR_SSL_(?:TLSV1|SSLV3)_ALERT_(.+)$/.exec(code)?.[1];
      if (!alert) return undefined;
      return `${host} refused the TLS handshake with the alert "${alert.toLowerCase().replace(/_/g, ' ')}": the server has no usable certificate or protocol for this request yet (a server still issuing its certificate answers so); check its TLS setup and its log`;
    }
  }
}

/** Classifies an error thrown by undici (or the abort of our own deadline) into a failure kind; `url` is where it happened. */
export function classifyRequestError(
  error: unknown,
  timedOut: boolean,
  timeoutText: string,
  url?: URL,
): RequestFailure {
  if (timedOut) return { kind: 'timeout', message: `timeout after ${timeoutText}` };
  const chain = errorChain(error);
  const codes = chain.map((link) => link.code ?? '');
  // OpenSSL's messages end in a newline (and name its source files): never let one split a log line.
  const detail = oneLine(chain.find((link) => link.message)?.message ?? String(error), 300);
  const has = (test: (code: string) => boolean) => codes.some(test);
  if (has((code) => code === 'ECONNREFUSED')) return { kind: 'connection refused', message: 'connection refused' };
  if (has((code) => code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME'))
    return { kind: 'DNS failure', message: `DNS failure: ${detail}` };
  const tlsCode = codes.find((code) => TLS_CODES.test(code));
  if (tlsCode !== undefined) {
    return { kind: 'TLS error', message: `TLS error: ${tlsSentence(tlsCode, url, chain) ?? detail}` };
  }
  if (has((code) => code.startsWith('UND_ERR_') && code.includes('TIMEOUT')))
    return { kind: 'timeout', message: `timeout after ${timeoutText}` };
  if (has((code) => code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE')) {
    // A TLS server closes a plain-HTTP connection without an answer (nginx and Caddy answer 400 instead).
    const hint = url?.protocol === 'http:' ? ` (if ${url.host} serves HTTPS, use https://)` : '';
    return { kind: 'connection reset', message: `connection reset: ${detail}${hint}` };
  }
  return { kind: 'network error', message: `network error: ${detail}` };
}
