import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Frees the buffers zlib and the tar writer leave behind, every `every` bytes of data that went through them.
 *
 * Why: zlib allocates a new output buffer for every 256 KiB it produces, and the tar writer a new batch; once used
 * they are garbage, but V8 frees an ArrayBuffer's memory only at a garbage collection, and starts one for external
 * memory only after 64 MiB of it have piled up — more than the whole budget of a bundle read (100 MiB, of which
 * Node itself takes 40). A young-generation collection (a scavenge, about a millisecond: the live young objects are
 * few) frees them; running one every 2 MiB bounds that garbage to a few MiB. `gc` is not exposed to scripts by
 * default; the flag makes a new context get it, and only the function is kept (nothing else changes for the
 * process).
 */
let gc: ((options: { type: 'minor' | 'major' }) => void) | undefined;

/**
 * What survives two scavenges is promoted to the old generation, and V8 frees a promoted ArrayBuffer (a 32-byte
 * digest of each file, a chunk held while a write was pending) only at a full collection, which it starts late: with
 * many small entries they piled up to 60 MiB in a read of 300,000 entries. A full collection every `every` × 8
 * bytes (16 MiB: a few milliseconds each, the live heap is a few MiB) bounds them too.
 */
const MINORS_PER_MAJOR = 8;

export function youngCollector(every = 2 * 1024 * 1024): (bytes: number) => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as typeof gc;
  }
  let since = 0;
  let minors = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    if (++minors % MINORS_PER_MAJOR === 0) gc!({ type: 'major' });
    else gc!({ type: 'minor' });
  };
}
