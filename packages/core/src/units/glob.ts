/**
 * Shell-style globs, translated to RegExp by one translator for both of their uses: a glob for one name (release-switch's
 * `release-pattern`) and a path glob (pack-bundle's `exclude`). `*` any run of characters, `?` one, `[…]` a class
 * (`[!…]` or `[^…]` negated, ranges like `0-9`, a `]` first in the class is literal), everything else literal.
 *
 * An unclosed `[` is a literal `[`, as POSIX shells read it (`case "[a" in [a) …` matches): a pattern means the same
 * here as in the `bash` that users test it with. Both uses used to disagree (one literal, one an error).
 */
function translate(glob: string, { star, one }: { star: string; one: string }, doubleStar?: (i: number) => number) {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const skip = c === '*' && doubleStar ? doubleStar(i) : -1;
    if (skip >= 0) {
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += skip;
    } else if (c === '*') out += star;
    else if (c === '?') out += one;
    else if (c === '[' && glob.indexOf(']', i + 2) >= 0) {
      const end = glob.indexOf(']', i + 2);
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

/** A glob for one directory or file name (no `/` in what it matches). */
export function nameGlob(glob: string): RegExp {
  return new RegExp(`^${translate(glob, { star: '.*', one: '.' })}$`, 's');
}

/**
 * Exclusion globs for bundle paths, one per line, as .gitignore reads the common cases: `*` and `?` within a path
 * segment, `**` across segments, a pattern without `/` matches a name at any depth, a leading `/` anchors it to the
 * root, and a matched directory excludes everything under it.
 */
export function pathGlob(pattern: string): RegExp {
  let glob = pattern.trim().replace(/\/+$/, '');
  const anchored = glob.startsWith('/') || glob.includes('/');
  glob = glob.replace(/^\/+/, '');
  const doubleStar = (i: number) => (glob[i + 1] === '*' ? (glob[i + 2] === '/' ? 2 : 1) : -1);
  const out = translate(glob, { star: '[^/]*', one: '[^/]' }, doubleStar);
  return new RegExp(`^${anchored ? '' : '(?:.*/)?'}${out}(?:/.*)?$`);
}

export function excluded(path: string, globs: readonly RegExp[]): boolean {
  return globs.some((glob) => glob.test(path));
}
