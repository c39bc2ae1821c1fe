/**
 * Release directory names as release-switch recognises them (its default `release-pattern`):
 * `<YYYYMMDD_HHMMSS>-<sha8>`, the time in UTC (a test holds it to release-switch's DEFAULT_RELEASE_PATTERN).
 */
export function releaseName(commitSha: string, at: Date): string {
  const sha8 = commitSha.slice(0, 8).toLowerCase();
  if (!/^[0-9a-f]{8}$/.test(sha8)) throw new Error(`not a commit SHA: ${commitSha}`);
  const iso = at.toISOString(); // 2026-11-23T17:41:11.000Z
  return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}-${sha8}`;
}

/** The one name a release directory may have: one path segment, no dot name, nothing a shell or a path would read. */
export function releaseNameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `"${name}" is not a directory name`;
  if (name.startsWith('.')) return `"${name}" starts with "." (hidden; release-switch never takes it for a release)`;
  if (!/^[A-Za-z0-9._+@-]+$/.test(name))
    return `"${name}" may only hold letters, digits and . _ + @ - (one directory name, no "/")`;
  return undefined;
}

/** The first full 40-hex commit SHA in a name such as `deployment-bundle-<sha>.tar.gz`. */
export function commitShaIn(name: string): string | undefined {
  return /(?:^|[^0-9a-f])([0-9a-f]{40})(?![0-9a-f])/i.exec(name)?.[1]?.toLowerCase();
}
