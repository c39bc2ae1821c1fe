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
let gc: ((options: { type: 'minor' }) => void) | undefined;

export function youngCollector(every = 2 * 1024 * 1024): (bytes: number) => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as typeof gc;
  }
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    gc!({ type: 'minor' });
  };
}
