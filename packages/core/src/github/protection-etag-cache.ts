import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { once } from '../lazy.js';
import type { GitHubResponse } from './client.js';

/**
 * ETags of the audit's GETs kept across runs (a file that actions/cache carries from one run to the next): the
 * next run asks with If-None-Match and GitHub answers 304, which does not count against the primary rate limit,
 * for everything that did not change.
 *
 * Threats: the file comes back from a cache other workflows share. (1) A forged body paired with the real ETag would
 * be answered 304 and believed (a pull_request_target workflow saves into the default branch's scope). (2) Its
 * answers are admin-only (classic protection, ruleset bypass lists), and a pull request's run — a fork's included —
 * can restore the default branch's caches. So the whole file is sealed with AES-256-GCM under a key derived from
 * the token of the run that wrote it (HKDF-SHA256): without that token it can be neither read nor changed; a file
 * that does not open with this run's token is an empty cache. Consequence: the cache helps only while the token
 * stays the same (a PAT, or a GitHub App token within its hour); with a token minted per run it is simply cold.
 * Size is bounded: a file over MAX_BYTES is not read, entries over MAX_ENTRIES are not written.
 */
export interface CachedResponse {
  etag: string;
  response: GitHubResponse;
}

const MAX_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 100_000;

/** Built on first use (see ../lazy.ts), as the audit reads a cache file only when it has one. */
const sealedSchema = once(() =>
  z.object({ version: z.literal(2), iv: z.string(), tag: z.string(), data: z.string() }).strict(),
);
const entriesSchema = once(() =>
  z.record(
    z.string(),
    z.object({
      etag: z.string(),
      response: z.object({
        status: z.number().int(),
        url: z.string(),
        data: z.unknown(),
        headers: z.record(z.string(), z.union([z.string(), z.number(), z.undefined()])),
      }),
    }),
  ),
);

const keyOf = (token: string) =>
  Buffer.from(hkdfSync('sha256', token, 'deploy-gates', 'deploy-gates etag cache v2', 32));

/** The entries of `path`, if it opens with this token; an absent, oversized, foreign or altered file is empty. */
export async function loadEtagCache(path: string, token: string): Promise<Map<string, CachedResponse>> {
  const cache = new Map<string, CachedResponse>();
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined || text.length > MAX_BYTES) return cache;
  try {
    const sealed = sealedSchema().parse(JSON.parse(text));
    const decipher = createDecipheriv('aes-256-gcm', keyOf(token), Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
    for (const [key, entry] of Object.entries(entriesSchema().parse(JSON.parse(plain.toString('utf8')))))
      cache.set(key, { etag: entry.etag, response: entry.response as GitHubResponse });
  } catch {
    cache.clear();
  }
  return cache;
}

/** Writes the cache sealed (atomically: a temporary file, owner-only, renamed over the old one). */
export async function saveEtagCache(
  path: string,
  token: string,
  cache: ReadonlyMap<string, CachedResponse>,
): Promise<void> {
  const entries = Object.fromEntries([...cache].slice(0, MAX_ENTRIES));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(token), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(entries), 'utf8'), cipher.final()]);
  const sealed = { version: 2, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify({ ...sealed, data: data.toString('base64') }), { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
