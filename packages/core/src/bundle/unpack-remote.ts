import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { nulFields, shellPath, shellQuote, type Target } from '../hosts/target.js';
import { BundleRefused } from './refused.js';
import { CanonicalSink } from './canonical.js';
import { TarWriter } from './tar-writer.js';
import { readBundle, releaseExistsError, type BundleRead } from './unpack.js';

/**
 * Unpacking on a host without letting the host's tar parse the bundle: the entries the strict reader accepted are
 * re-serialised, as they are read, into a canonical archive (plain ustar, PAX only for long names; files,
 * directories, symlinks and hard links to earlier files; modes normalised; no owners) under `r/`, followed by the
 * manifest `m` of the accepted tree. That archive is spooled on the runner, and sent only when the bundle's digest
 * matched and every entry passed. The host checks the canonical archive's SHA-256 (passed in the script, not in the
 * stream), unpacks it with `--no-same-owner --no-same-permissions` under umask 022, writes the manifest of what is
 * on disk (find, sha256sum of every file) and compares it with `m`, checks every symlink's realpath, and only then
 * renames the release into place — in one round trip.
 */
export interface Spooled {
  read: BundleRead;
  /** The canonical archive (gzip), when the bundle was accepted; the caller removes `dir`. */
  file?: string;
  sha256?: string;
  dir: string;
}

/** Reads the bundle once into the canonical archive; the archive is kept only when `accept(read)` says so. */
export async function spoolCanonical(
  bundlePath: string,
  maxSize: number,
  accept: (read: BundleRead) => boolean,
  signal?: AbortSignal,
): Promise<Spooled> {
  const dir = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'dg-canonical-'));
  const file = join(dir, 'release.tar.gz');
  const hash = createHash('sha256');
  const gzip = createGzip({ level: 1 });
  const digest = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const written = pipeline(gzip, digest, createWriteStream(file, { mode: 0o600 }));
  written.catch(() => {});
  const writer = new TarWriter(gzip);
  let read: BundleRead | undefined;
  try {
    read = await readBundle(bundlePath, maxSize, new CanonicalSink(writer, 'r/'), signal);
    const accepted = accept(read);
    if (accepted) await writeManifest(writer, read);
    await writer.end();
    await written;
    return accepted ? { read, file, sha256: hash.digest('hex'), dir } : { read, dir };
  } catch (error) {
    read?.tree.close();
    gzip.destroy();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The accepted tree's manifest as the file `m`, streamed (it is as long as the tree has entries): built twice
 * (once for its size) rather than held. */
async function writeManifest(writer: TarWriter, read: BundleRead): Promise<void> {
  let size = 0;
  for (const piece of read.tree.manifest()) size += Buffer.byteLength(piece);
  await writer.header({ path: 'm', type: 'file', mode: 0o644, size, mtime: 0 });
  for (const piece of read.tree.manifest()) await writer.write(Buffer.from(piece));
  await writer.pad(size);
}

/** The host's manifest of `.` in the lines release-tree.ts defines, sorted as the runner sorts them. */
const HOST_MANIFEST = [
  '{',
  `  find . -mindepth 1 -type d -printf '%P\\td\\t%m\\n'`,
  `  find . -mindepth 1 -type f -printf '%P\\tf\\t%m\\t%s\\n'`,
  `  find . -mindepth 1 -type l -printf '%P\\tl\\t%l\\n'`,
  `  find . -mindepth 1 ! -type d ! -type f ! -type l -printf '%P\\tother\\n'`,
  `  find . -type f -print0 | xargs -0 -r sha256sum -z -- | tr '\\0' '\\n' | sed 's|^\\([0-9a-f]\\{64\\}\\)  \\./\\(.*\\)$|\\2\\th\\t\\1|'`,
  '} | sort > "$t/actual" || exit 8',
];

function remoteScript(extractTo: string, name: string, sha256: string): string {
  return [
    'set -u',
    'export LC_ALL=C',
    'umask 022',
    `dir=${shellPath(extractTo)}`,
    `final="$dir"/${shellQuote(name)}`,
    'file=""; t=""',
    `trap 'cd /; rm -rf -- \${file:+"$file"} \${t:+"$t"}' EXIT`,
    'mkdir -p -- "$dir" || exit 5',
    'if [ -e "$final" ] || [ -L "$final" ]; then cat >/dev/null; exit 3; fi',
    `file=$(mktemp "$dir"/.incoming-${shellQuote(name)}-XXXXXX) || exit 5`,
    'cat > "$file" || exit 6',
    'actual=$(sha256sum "$file" | cut -d" " -f1) || exit 7',
    `printf '%s\\0' "$actual"`,
    `[ "$actual" = ${sha256} ] || exit 4`,
    `t=$(mktemp -d "$dir"/.incoming-${shellQuote(name)}-XXXXXX) || exit 5`,
    'tar -xzf "$file" -C "$t" --no-same-owner --no-same-permissions || exit 8',
    'rm -f -- "$file"; file=""',
    '[ -d "$t/r" ] && [ ! -L "$t/r" ] && [ -f "$t/m" ] || exit 8',
    // Directories made by tar inherit a setgid bit from a releases directory that has one.
    'find "$t/r" -type d -perm -2000 -exec chmod g-s -- {} + || exit 8',
    'chmod 755 "$t/r" && cd "$t/r" || exit 8',
    ...HOST_MANIFEST,
    `if ! cmp -s "$t/m" "$t/actual"; then comm -3 "$t/m" "$t/actual" | head -n 20 | tr '\\n' '\\0'; exit 10; fi`,
    'root=$(pwd -P)',
    'find . -type l -print | while IFS= read -r l; do',
    '  p=$(realpath -m -- "$l" 2>&1) || { printf \'%s\\0%s\\0\' "${l#./}" "$p"; continue; }',
    '  case $p in "$root"|"$root"/*) ;; *) printf \'%s\\0%s\\0\' "${l#./}" "$p" ;; esac',
    'done > "$t/links"',
    'if [ -s "$t/links" ]; then cat "$t/links"; exit 11; fi',
    'cd /',
    'if [ -e "$final" ] || [ -L "$final" ]; then exit 3; fi',
    'mv -T -- "$t/r" "$final" || exit 9',
    `printf '%s\\0' "$final"`,
  ].join('\n');
}

/** Sends the canonical archive and has the host unpack, check and rename it; returns the release directory. */
export async function unpackRemote(
  target: Target,
  spooled: { file: string; sha256: string; read: BundleRead },
  extractTo: string,
  name: string,
): Promise<string> {
  const release = `${extractTo.replace(/\/+$/, '')}/${name}`;
  const result = await target.run(remoteScript(extractTo, name, spooled.sha256), { stdinFile: spooled.file });
  const [hostSha, ...rest] = nulFields(result.stdout);
  const stderr = result.stderr.trim().split('\n').slice(-3).join(' ');
  switch (result.exitCode) {
    case 0:
      return release;
    case 3:
      throw releaseExistsError(`${release} on ${target.description}`);
    case 4:
      throw new UnpackFailed(
        `SHA-256 of the canonical archive on ${target.description} is ${hostSha ?? '?'}, not ${spooled.sha256}: the upload was changed on the way; it was deleted and nothing was unpacked`,
      );
    case 10:
      throw new BundleRefused(
        rest[0]?.replace(/^\t/, '').split('\t')[0],
        `differs on ${target.description} from what was checked (${rest
          .slice(0, 4)
          .map((line) => (line.startsWith('\t') ? `found: ${line.slice(1)}` : `checked: ${line}`))
          .join('; ')
          .replace(/\t/g, ' ')}); the temporary directory was removed`,
      );
    case 11:
      throw new BundleRefused(rest[0], `resolves on ${target.description} to ${rest[1] ?? '?'}, outside the release`);
    default:
      throw new UnpackFailed(
        `unpacking into ${release} on ${target.description} failed (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}): ${stderr || 'no output'}; nothing was left behind`,
      );
  }
}

/** The host could not unpack (a transfer that changed, a full disk, a missing tool): the Unpack step fails. */
export class UnpackFailed extends Error {}
