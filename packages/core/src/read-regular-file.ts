import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** A regular file's bytes, or why they were not read. */
export type RegularFileRead =
  | { data: Buffer }
  | { problem: 'not a regular file' | 'too large' | 'changed while it was read' }
  | { problem: 'cannot open'; code: string };

/**
 * Reads a file that a user (or an earlier step) names: opened once, so what is checked is what is read; O_NONBLOCK,
 * so a FIFO does not wait for a writer; only a regular file of at most `maxBytes`; and at most one byte more than the
 * size it told, so a file that grows meanwhile (or `/dev/zero`) is noticed, never read on without end.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<RegularFileRead> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) return { problem: 'not a regular file' };
    if (info.size > maxBytes) return { problem: 'too large' };
    const buffer = Buffer.alloc(info.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > info.size) return { problem: 'changed while it was read' };
    return { data: buffer.subarray(0, length) };
  } catch (error) {
    return { problem: 'cannot open', code: (error as NodeJS.ErrnoException).code ?? String(error) };
  } finally {
    await handle?.close();
  }
}
