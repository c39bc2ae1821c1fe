import { readFile } from 'node:fs/promises';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial, type VerifierOptions } from '@sigstore/verify';
import { ArgumentError } from '../errors.js';
import { githubRoot } from './roots/github.js';
import { publicGoodRoot } from './roots/public-good.js';

/**
 * What a signature may chain to: Sigstore trusted roots (`trusted_root.json`, the format `gh attestation
 * trusted-root` prints). Each root brings its own rules, as GitHub's verification applies them: a root with
 * transparency logs (public-good Sigstore, for public repositories) requires a Rekor entry with a verified inclusion
 * and, with CT logs, a certificate transparency timestamp; a root without (GitHub's own, for private repositories)
 * requires an RFC 3161 timestamp from its timestamp authority. Either way at least one verified timestamp.
 */
export interface LoadedRoot {
  /** Where it came from: `public-good Sigstore`, `GitHub`, or a file and line. */
  name: string;
  material: TrustMaterial;
  options: VerifierOptions;
  /** The subjects of its CA certificates: a leaf whose issuer is one of them is this root's to judge. */
  subjects: Buffer[];
}

export interface RootSource {
  name: string;
  json: unknown;
}

/** The roots shipped with the action (see scripts/trusted-roots.mjs to refresh them). */
export const DEFAULT_ROOTS: RootSource[] = [
  { name: 'public-good Sigstore', json: publicGoodRoot },
  { name: 'GitHub', json: githubRoot },
];

const MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v[\d.]+)?\+json/;

export function loadRoot(source: RootSource): LoadedRoot {
  const mediaType = (source.json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType))
    throw new ArgumentError(
      'trustedRoot',
      `${source.name} is not a Sigstore trusted root (mediaType ${JSON.stringify(mediaType ?? null)}); pass a trusted_root.json, e.g. from \`gh attestation trusted-root\``,
    );
  let root: TrustedRoot;
  let material: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(source.json);
    material = toTrustMaterial(root);
  } catch (error) {
    throw new ArgumentError(
      'trustedRoot',
      `${source.name} cannot be read as a trusted root: ${(error as Error).message}`,
    );
  }
  if (root.certificateAuthorities.length === 0 || (root.tlogs.length === 0 && root.timestampAuthorities.length === 0))
    throw new ArgumentError(
      'trustedRoot',
      `${source.name} has ${root.certificateAuthorities.length === 0 ? 'no certificate authority' : 'neither a transparency log nor a timestamp authority'}; a root must have both to verify an attestation`,
    );
  const withLogs = root.tlogs.length > 0;
  return {
    name: source.name,
    material,
    options: {
      tlogThreshold: withLogs ? 1 : 0,
      ctlogThreshold: withLogs && root.ctlogs.length > 0 ? 1 : 0,
      timestampThreshold: 1,
    },
    subjects: material.certificateAuthorities.flatMap((ca) => ca.certChain.map((cert) => cert.subject)),
  };
}

/** The roots a leaf certificate's issuer belongs to. */
export function rootsFor(leaf: X509Certificate, roots: LoadedRoot[]): LoadedRoot[] {
  return roots.filter((root) => root.subjects.some((subject) => subject.equals(leaf.issuer)));
}

/**
 * Trusted roots from files: each a `trusted_root.json`, or JSON lines of them (`gh attestation trusted-root`
 * prints one root a line).
 */
export async function readRootFiles(paths: string[]): Promise<RootSource[]> {
  const sources: RootSource[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new ArgumentError(
        'trustedRoot',
        `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); pass the path of a trusted_root.json`,
      );
    }
    const lines = text.trim().startsWith('{') && !text.trim().includes('\n{') ? [text] : text.split('\n');
    lines.forEach((line, index) => {
      if (!line.trim()) return;
      const name = lines.length > 1 ? `${path} line ${index + 1}` : path;
      try {
        sources.push({ name, json: JSON.parse(line) });
      } catch {
        throw new ArgumentError('trustedRoot', `${name} is not JSON; pass a trusted_root.json`);
      }
    });
  }
  return sources;
}
