import type { Dispatcher } from 'undici';
import { excerpt } from './expectations.js';
import type { Redactor } from '../redact.js';
import { oneLine } from '../text.js';
import { httpRequest } from './request.js';
import { mapConcurrent } from './concurrency.js';

export type ManifestVerdict = { pass: boolean; reason: string; status?: number; assets: number };

/** Every file a Vite manifest refers to: each chunk's `file`, its `css` and its `assets`. */
export function manifestFiles(manifest: unknown): string[] | undefined {
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) return undefined;
  const files = new Set<string>();
  for (const chunk of Object.values(manifest as Record<string, unknown>)) {
    if (chunk === null || typeof chunk !== 'object') continue;
    const { file, css, assets } = chunk as { file?: unknown; css?: unknown; assets?: unknown };
    for (const entry of [file, ...(Array.isArray(css) ? css : []), ...(Array.isArray(assets) ? assets : [])]) {
      if (typeof entry === 'string' && entry !== '') files.add(entry);
    }
  }
  return [...files];
}

/**
 * Where manifest entries are relative to: the folder of manifest.json (Laravel's `/build/manifest.json`),
 * or its parent when the manifest sits in Vite 5's `.vite/` folder (`/build/.vite/manifest.json`).
 */
export function defaultAssetBase(manifestUrl: URL): URL {
  const folder = new URL('./', manifestUrl);
  return folder.pathname.endsWith('/.vite/') ? new URL('../', folder) : folder;
}

export interface ManifestCheckOptions {
  dispatcher: Dispatcher;
  timeoutMs: number;
  originHeaders: Readonly<Record<string, string>>;
  followRedirects: boolean;
  assetBase?: URL;
  concurrency?: number;
  /** Masks secrets in body excerpts before they are cut. */
  redactor?: Redactor;
}

/** Fetches the manifest and checks that every file it lists is served with a 2xx from the asset base's origin. */
export async function checkManifest(manifestUrl: URL, options: ManifestCheckOptions): Promise<ManifestVerdict> {
  const deadline = Date.now() + options.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  const outcome = await httpRequest(manifestUrl, { ...options, timeoutMs: remaining() });
  if (!outcome.ok) return { pass: false, reason: outcome.failure.message, assets: 0 };
  const { status, body, bodyError } = outcome.response;
  if (status < 200 || status > 299)
    return { pass: false, reason: `manifest answered HTTP ${status}, expected 2xx`, status, assets: 0 };
  if (bodyError) return { pass: false, reason: `manifest: ${bodyError}`, status, assets: 0 };
  let files: string[] | undefined;
  try {
    files = manifestFiles(JSON.parse(body));
  } catch {
    files = undefined;
  }
  if (!files)
    return {
      pass: false,
      reason: `manifest is not a Vite manifest object: ${excerpt(body, undefined, options.redactor)}`,
      status,
      assets: 0,
    };
  if (files.length === 0) return { pass: false, reason: 'manifest lists no files', status, assets: 0 };

  const base = options.assetBase ?? defaultAssetBase(manifestUrl);
  const results = await mapConcurrent(files, options.concurrency ?? 8, async (file) => {
    const assetUrl = new URL(file, base);
    // The manifest's names are the server's text: one line, masked and cut like a body's excerpt.
    const name = oneLine(file, 120, options.redactor);
    if (assetUrl.origin !== base.origin) return `${name} (not on ${base.origin})`;
    const asset = await httpRequest(assetUrl, {
      ...options,
      originHeaders: assetUrl.origin === manifestUrl.origin ? options.originHeaders : {},
      timeoutMs: remaining(),
      discardBody: true,
    });
    if (!asset.ok) return `${name} (${asset.failure.message})`;
    const code = asset.response.status;
    return code >= 200 && code <= 299 ? undefined : `${name} (HTTP ${code})`;
  });
  const missing = results.filter((result): result is string => result !== undefined);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(', ');
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    return {
      pass: false,
      reason: `${missing.length} of ${files.length} assets not served: ${shown}${more}`,
      status,
      assets: files.length,
    };
  }
  return { pass: true, reason: `ok, ${files.length} assets served`, status, assets: files.length };
}
