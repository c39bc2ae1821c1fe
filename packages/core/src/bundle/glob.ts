/**
 * Exclusion globs for bundle paths, one per line, as .gitignore reads the common cases: `*` and `?` within a path
 * segment, `**` across segments, a pattern without `/` matches a name at any depth, a leading `/` anchors it to the
 * root, and a matched directory excludes everything under it.
 */
export function pathGlob(pattern: string): RegExp {
  let glob = pattern.trim().replace(/\/+$/, '');
  const anchored = glob.startsWith('/') || glob.includes('/');
  glob = glob.replace(/^\/+/, '');
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${anchored ? '' : '(?:.*/)?'}${out}(?:/.*)?$`);
}

export function excluded(path: string, globs: readonly RegExp[]): boolean {
  return globs.some((glob) => glob.test(path));
}
