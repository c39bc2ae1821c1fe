/** The most symbols a timeline shows; longer windows are shown in buckets of probes. */
export const TIMELINE_MAX = 40;

/**
 * A window's probes as one compact line for the summary: ✅ healthy, ❌ unhealthy, one per probe — or, for more
 * probes than TIMELINE_MAX, one per bucket of consecutive probes, 🟨 for a bucket that holds both.
 */
export function timeline(passes: readonly boolean[], max = TIMELINE_MAX): string {
  const size = Math.max(1, Math.ceil(passes.length / max));
  let line = '';
  for (let i = 0; i < passes.length; i += size) {
    const bucket = passes.slice(i, i + size);
    line += bucket.every(Boolean) ? '✅' : bucket.some(Boolean) ? '🟨' : '❌';
  }
  return line;
}
