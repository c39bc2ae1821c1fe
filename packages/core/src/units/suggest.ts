/** Edit distance (insertions, deletions, substitutions), for suggesting the name a typo meant. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * `; did you mean "health-urls"?` for a name close to one of the valid names (`health-url`, `helth-urls`,
 * `Health-Urls`), else ''. Close: at most a third of the name's letters differ.
 */
export function didYouMean(name: string, valid: readonly string[]): string {
  const lower = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of valid) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (!best || d < best.distance) best = { name: candidate, distance: d };
  }
  return best && best.distance <= Math.max(1, Math.floor(name.length / 3)) ? `; did you mean "${best.name}"?` : '';
}
