/** Characters of the text before the newest chunk that a search looks at, so a marker split across chunks is found. */
const OVERLAP = 1024;

/**
 * A command's output as it streams in, searched for markers on every chunk in linear time. Appending each chunk to
 * one string and searching it from the start makes V8 flatten (copy) the whole text on every chunk: a 10 MB release
 * history read through the lock session took seconds, growing with the square of its size. Here each chunk is kept
 * apart until the whole text is asked for, and a repeated search looks only at what arrived since it last looked.
 * Positions are absolute (from the start of the text).
 */
export class StreamedText {
  private readonly parts: string[] = [];
  private joined = '';
  /** The newest chunk, its absolute start, and up to OVERLAP characters before it. */
  private last = '';
  private lastStart = 0;
  private before = '';
  /** before + last, joined on first use after a push. */
  private window: string | undefined;
  /** Per marker: the `from` of its last search and where the text was searched up to. */
  private readonly searched = new Map<string, { from: number; to: number }>();
  length = 0;

  constructor(start = '') {
    this.push(start);
  }

  push(chunk: string): void {
    if (chunk === '') return;
    this.before = (this.before + this.last).slice(-OVERLAP);
    this.last = chunk;
    this.window = undefined;
    this.lastStart = this.length;
    this.parts.push(chunk);
    this.length += chunk.length;
  }

  /** Like String#indexOf; a search for the same marker from the same place resumes where the last one ended. */
  indexOf(marker: string, from = 0): number {
    const seen = this.searched.get(marker);
    const start = seen && seen.from === from ? Math.max(from, seen.to - marker.length + 1) : from;
    const at = this.region(start).indexOf(marker);
    const found = at < 0 ? -1 : start + at;
    this.searched.set(marker, { from, to: found < 0 ? this.length : found + marker.length - 1 });
    return found;
  }

  /** Like String#slice with absolute positions (end defaults to the text's end); recent text is cut without a join. */
  slice(start: number, end = this.length): string {
    return this.region(start).slice(0, Math.max(0, end - start));
  }

  /** Like String#endsWith: whether the text ends with `suffix`. */
  endsWith(suffix: string): boolean {
    return suffix.length <= this.length && this.slice(this.length - suffix.length) === suffix;
  }

  /** The whole text (joined once after new chunks). */
  text(): string {
    if (this.parts.length > 0) {
      this.joined += this.parts.join('');
      this.parts.length = 0;
    }
    return this.joined;
  }

  /** The text from `start` to the end: out of the newest chunk and what precedes it when it lies there. */
  private region(start: number): string {
    const windowStart = this.lastStart - this.before.length;
    if (start >= windowStart) return (this.window ??= this.before + this.last).slice(start - windowStart);
    return this.text().slice(start);
  }
}
