#!/usr/bin/env node
// Bundles every action (actions/<name>/src/index.ts, plus src/post.ts where action.yml has a post step)
// and the CLI into single files with ncc: dist/<name>/index.js, dist/<name>/post.js, dist/cli/index.js.
// `--out <dir>` writes the bundles elsewhere (the freshness test compares such a build with dist/).
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ncc from '@vercel/ncc';
import { minify } from 'terser';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, 'dist');

async function entries() {
  const list = [{ name: 'cli', files: [['index.js', join(root, 'packages/cli/src/index.ts')]] }];
  for (const name of (await readdir(join(root, 'actions'))).sort()) {
    const src = join(root, 'actions', name, 'src');
    const files = [['index.js', join(src, 'index.ts')]];
    if (existsSync(join(src, 'post.ts'))) files.push(['post.js', join(src, 'post.ts')]);
    list.push({ name, files });
  }
  return list;
}

async function bundle(entry) {
  const { code, assets } = await ncc(entry, { cache: false, minify: true, sourceMap: false, quiet: true, target: 'es2023' });
  // ncc adds a package.json ({"type":"module"}) for ESM output, and a chunk file (<id>.index.js) for each module
  // loaded with import() on first use; anything else would be a file from outside the bundle, which is not allowed.
  const chunks = Object.entries(assets ?? {}).filter(([asset]) => asset !== 'package.json');
  const foreign = chunks.map(([asset]) => asset).filter((asset) => !/^\d+\.index\.m?js$/.test(asset));
  if (foreign.length > 0) throw new Error(`${entry}: ncc emitted assets that are not chunks (${foreign.join(', ')})`);
  // ncc minifies the main file only; its chunks get the same treatment here (smaller to commit and to parse).
  const minified = [];
  for (const [asset, { source }] of chunks) {
    const { code: small } = await minify(String(source), { module: true, ecma: 2020, compress: true, mangle: true, format: { comments: false } });
    minified.push([asset, small]);
  }
  return { code, packageJson: assets?.['package.json']?.source, chunks: minified };
}

await rm(out, { recursive: true, force: true });
for (const { name, files } of await entries()) {
  await mkdir(join(out, name), { recursive: true });
  for (const [file, entry] of files) {
    const { code, packageJson, chunks } = await bundle(entry);
    await writeFile(join(out, name, file), code, { mode: name === 'cli' ? 0o755 : 0o644 });
    if (packageJson) await writeFile(join(out, name, 'package.json'), packageJson);
    for (const [chunk, source] of chunks) await writeFile(join(out, name, chunk), source);
    const loadedLater = chunks.reduce((sum, [, source]) => sum + Buffer.byteLength(source), 0);
    console.log(`dist/${name}/${file}  ${(Buffer.byteLength(code) / 1024).toFixed(0)} KiB${loadedLater ? ` (+ ${(loadedLater / 1024).toFixed(0)} KiB loaded on first use)` : ''}`);
  }
}
