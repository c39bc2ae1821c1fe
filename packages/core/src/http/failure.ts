/** Why a request got no HTTP answer, in the words an operator searches for. */
export type FailureKind = 'timeout' | 'connection refused' | 'DNS failure' | 'TLS error' | 'connection reset' | 'redirect' | 'network error';

export interface RequestFailure {
  kind: FailureKind;
  message: string;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|EPROTO|ERR_OSSL)/;

function errorChain(error: unknown): { code?: string; message?: string; name?: string }[] {
  const chain: { code?: string; message?: string; name?: string }[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && chain.length < 5) {
    chain.push(current as { code?: string; message?: string; name?: string });
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** Classifies an error thrown by undici (or the abort of our own deadline) into a failure kind. */
export function classifyRequestError(error: unknown, timedOut: boolean, timeoutText: string): RequestFailure {
  if (timedOut) return { kind: 'timeout', message: `timeout after ${timeoutText}` };
  const chain = errorChain(error);
  const codes = chain.map((link) => link.code ?? '');
  const detail = chain.find((link) => link.message)?.message ?? String(error);
  const has = (test: (code: string) => boolean) => codes.some(test);
  if (has((code) => code === 'ECONNREFUSED')) return { kind: 'connection refused', message: 'connection refused' };
  if (has((code) => code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME'))
    return { kind: 'DNS failure', message: `DNS failure: ${detail}` };
  if (has((code) => TLS_CODES.test(code))) return { kind: 'TLS error', message: `TLS error: ${detail}` };
  if (has((code) => code.startsWith('UND_ERR_') && code.includes('TIMEOUT')))
    return { kind: 'timeout', message: `timeout after ${timeoutText}` };
  if (has((code) => code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE'))
    return { kind: 'connection reset', message: `connection reset: ${detail}` };
  return { kind: 'network error', message: `network error: ${detail}` };
}
