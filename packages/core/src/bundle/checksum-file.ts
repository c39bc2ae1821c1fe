import { basename } from 'node:path';
import { SHA256_HEX } from './hash.js';

/**
 * Checksum files as `sha256sum` writes them (`<hex>  <name>`, `<hex> *<name>` in binary mode, a leading `\` when
 * the name was escaped) and as BSD tools and `openssl dgst` write them (`SHA256 (<name>) = <hex>`).
 */
export interface ChecksumLine {
  sha256: string;
  /** The file name as written in the line (unescaped). */
  name: string;
  format: 'sha256sum' | 'bsd';
}

const GNU = /^(\\?)([0-9a-fA-F]{64}) [ *](.+)$/;
const BSD = /^(\\?)SHA2?-?256 ?\((.+)\) ?= ?([0-9a-fA-F]{64})$/;

function unescape(name: string, escaped: boolean): string {
  return escaped
    ? name.replace(/\\(\\|n|r)/g, (_all, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'))
    : name;
}

/** Every checksum line of the text; blank lines and `#` comments are skipped, anything else is a problem. */
export function parseChecksumFile(text: string): { lines: ChecksumLine[]; problems: string[] } {
  const lines: ChecksumLine[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const gnu = GNU.exec(line);
    if (gnu)
      return void lines.push({
        sha256: gnu[2]!.toLowerCase(),
        name: unescape(gnu[3]!, gnu[1] === '\\'),
        format: 'sha256sum',
      });
    const bsd = BSD.exec(line);
    if (bsd)
      return void lines.push({
        sha256: bsd[3]!.toLowerCase(),
        name: unescape(bsd[2]!, bsd[1] === '\\'),
        format: 'bsd',
      });
    problems.push(`line ${index + 1} is neither "<sha256>  <file>" nor "SHA256 (<file>) = <sha256>"`);
  });
  return { lines, problems };
}

/**
 * The SHA-256 a checksum file gives for `fileName`, read strictly: every non-empty line must parse (blank lines and
 * `#` comments are skipped, as `sha256sum -c` skips them), and the line used must name `fileName` (by its base name,
 * as `sha256sum -c` run in the file's folder would) — a file whose only line names another file is refused, since it
 * may be the checksum of another build. Throws an Error saying what is wrong and the fix.
 */
export function checksumFor(text: string, fileName: string): ChecksumLine {
  const { lines, problems } = parseChecksumFile(text);
  if (problems.length > 0) throw new Error(`${problems[0]}; every non-empty line must be a checksum line`);
  if (lines.length === 0) throw new Error('it has no checksum line');
  const wanted = basename(fileName);
  const named = lines.filter((line) => basename(line.name) === wanted);
  const distinct = new Set(named.map((line) => line.sha256));
  if (distinct.size > 1) throw new Error(`it has ${named.length} different checksums for ${wanted}`);
  if (named.length > 0) return named[0]!;
  throw new Error(
    `none of its ${lines.length === 1 ? 'lines' : `${lines.length} lines`} names ${wanted} (it names ${lines
      .slice(0, 3)
      .map((line) => line.name)
      .join(
        ', ',
      )}${lines.length > 3 ? ', …' : ''}); pass the .sha256 written for this bundle, or its digest alone as expected-sha256`,
  );
}

/** One line in `sha256sum`'s format (text mode, two spaces), so `sha256sum -c` reads it. */
export function formatChecksumLine(sha256: string, fileName: string): string {
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
  if (/[\\\n\r]/.test(fileName))
    return `\\${sha256.toLowerCase()}  ${fileName.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}\n`;
  return `${sha256.toLowerCase()}  ${fileName}\n`;
}
