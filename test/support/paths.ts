import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The Node 24 the actions run on: npm installs it as the `node` package (the machine may have an older one). */
export const node24 =
  Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : join(repoRoot, 'node_modules/node/bin/node');

export const distFile = (action: string, file = 'index.js') => join(repoRoot, 'dist', action, file);
