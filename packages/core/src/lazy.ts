/**
 * A value built on first use and kept: for zod schemas, whose construction at module load costs every bundle's cold
 * start (a few ms each) even when the step never parses what they describe.
 */
export function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
