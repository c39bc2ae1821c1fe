#!/usr/bin/env node
// Bundles every action (actions/<name>/src/index.ts, plus src/post.ts where action.yml has a post step, and
// src/monitor.ts where the action starts a process of its own) and the CLI into single files with ncc:
// dist/<name>/index.js, dist/<name>/post.js, dist/<name>/monitor.js, dist/cli/index.js.
// `--out <dir>` writes the bundles elsewhere (the freshness test compares such a build with dist/).
// `--only <a,b>` bundles just those entries (action names or `cli`) and replaces only their folders in the output.
// `--jobs <n>` bundles up to n entries at once, each in its own worker thread (default: one per processor);
// every entry is its own ncc compilation either way, so the output does not depend on n.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { parse } from 'acorn';

const script = fileURLToPath(import.meta.url);
const root = resolve(dirname(script), '..');

if (isMainThread) await main();
else await bundleInWorker();

function option(name) {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}

async function entries() {
  const list = [{ name: 'cli', files: [['index.js', join(root, 'packages/cli/src/index.ts')]] }];
  for (const name of (await readdir(join(root, 'actions'))).sort()) {
    const src = join(root, 'actions', name, 'src');
    const files = [['index.js', join(src, 'index.ts')]];
    if (existsSync(join(src, 'post.ts'))) files.push(['post.js', join(src, 'post.ts')]);
    // A process an action starts of its own (egress-sentinel's monitor): a small bundle that starts fast.
    if (existsSync(join(src, 'monitor.ts'))) files.push(['monitor.js', join(src, 'monitor.ts')]);
    list.push({ name, files });
  }
  return list;
}

async function main() {
  const out = option('--out') ? resolve(option('--out')) : join(root, 'dist');
  const only = option('--only')
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const chosen = (await entries()).filter(({ name }) => !only || only.includes(name));
  if (only && chosen.length !== only.length) {
    process.stderr.write(
      `--only names an entry that does not exist: ${only.join(', ')} (entries: cli and actions/<name>)\n`,
    );
    process.exit(2);
  }
  const jobs = [];
  for (const { name, files } of chosen) for (const [file, entry] of files) jobs.push({ name, file, entry });
  const jobCount = Math.max(1, Math.min(Number(option('--jobs') ?? availableParallelism()) || 1, jobs.length));

  // Bundle in worker threads, a fresh one per entry (ncc's memory is not given back between compilations: one worker
  // bundling entry after entry ran out of heap), up to jobCount at a time; then write in a fixed order.
  const results = new Array(jobs.length);
  let next = 0;
  const failures = [];
  const bundleOne = (index) =>
    new Promise((done) => {
      const worker = new Worker(script, {
        workerData: null,
        stdout: false,
        stderr: false,
        resourceLimits: { maxOldGenerationSizeMb: 4096 },
      });
      worker.once('message', (message) => {
        if (message.error) failures.push(`${relative(root, jobs[index].entry)}: ${message.error}`);
        else results[index] = message;
        worker.terminate().then(done);
      });
      worker.once('error', (error) => {
        failures.push(`${relative(root, jobs[index].entry)}: ${error?.message ?? error}`);
        done();
      });
      worker.postMessage(jobs[index].entry);
    });
  const runWorker = async () => {
    while (failures.length === 0 && next < jobs.length) await bundleOne(next++);
  };
  await Promise.all(Array.from({ length: jobCount }, runWorker));
  if (failures.length > 0) {
    process.stderr.write(
      `build failed:\n${failures.map((failure) => `  ${failure.replace(/\n/g, '\n  ')}`).join('\n')}\n`,
    );
    process.exit(1);
  }

  // The files of one action share its folder: a chunk that two of them emit under one name must be the same chunk.
  const chunkFiles = new Map();
  for (const [index, { name }] of jobs.entries())
    for (const [chunk, source] of results[index].chunks) {
      const key = join(name, chunk);
      if (chunkFiles.has(key) && chunkFiles.get(key) !== source) {
        process.stderr.write(`build failed: two bundles of ${name} emit different chunks named ${chunk}\n`);
        process.exit(1);
      }
      chunkFiles.set(key, source);
    }

  if (only) for (const { name } of chosen) await rm(join(out, name), { recursive: true, force: true });
  else await rm(out, { recursive: true, force: true });
  for (const [index, { name, file }] of jobs.entries()) {
    const { code, packageJson, chunks } = results[index];
    await mkdir(join(out, name), { recursive: true });
    await writeFile(join(out, name, file), code, { mode: name === 'cli' ? 0o755 : 0o644 });
    if (packageJson) await writeFile(join(out, name, 'package.json'), packageJson);
    for (const [chunk, source] of chunks) await writeFile(join(out, name, chunk), source);
    const loadedLater = chunks.reduce((sum, [, source]) => sum + Buffer.byteLength(source), 0);
    console.log(
      `dist/${name}/${file}  ${(Buffer.byteLength(code) / 1024).toFixed(0)} KiB${loadedLater ? ` (+ ${(loadedLater / 1024).toFixed(0)} KiB loaded on first use)` : ''}`,
    );
  }
}

async function bundleInWorker() {
  const [{ default: ncc }, { minify }] = await Promise.all([import('@vercel/ncc'), import('terser')]);
  const bundle = async (entry) => {
    const { code, assets } = await ncc(entry, {
      cache: false,
      minify: true,
      sourceMap: false,
      quiet: true,
      target: 'es2023',
    });
    // ncc adds a package.json ({"type":"module"}) for ESM output, and a chunk file (<id>.index.js) for each module
    // loaded with import() on first use; anything else would be a file from outside the bundle, which is not allowed.
    const chunks = Object.entries(assets ?? {}).filter(([asset]) => asset !== 'package.json');
    const foreign = chunks.map(([asset]) => asset).filter((asset) => !/^\d+\.index\.m?js$/.test(asset));
    if (foreign.length > 0) throw new Error(`ncc emitted assets that are not chunks (${foreign.join(', ')})`);
    // ncc minifies the main file only; its chunks get the same treatment here (smaller to commit and to parse).
    const minified = [];
    for (const [asset, { source }] of chunks) {
      const { code: small } = await minify(String(source), {
        module: true,
        ecma: 2020,
        compress: true,
        mangle: true,
        format: { comments: false },
      });
      minified.push([asset, small]);
    }
    return {
      code: eagerModuleFactories(lazyBuiltins(code)),
      packageJson: assets?.['package.json']?.source?.toString(),
      chunks: minified.map(([asset, source]) => [asset, eagerModuleFactories(lazyBuiltins(source))]),
    };
  };
  parentPort.on('message', async (entry) => {
    try {
      parentPort.postMessage(await bundle(entry));
    } catch (error) {
      parentPort.postMessage({ error: conciseError(error) });
    }
  });
}

/**
 * Wraps each module factory of webpack's module table (`{801:(e,t,n)=>{…}}` — the main file's `var` and a chunk's
 * `export const modules`) in parentheses. V8 compiles a parenthesized function eagerly, with the script; any other
 * function is only pre-parsed then and parsed again in full when first called. A factory runs as soon as its module
 * is required — in the main file at start, in a chunk when it is loaded — and ncc concatenates an action's ES
 * modules (zod, core, action-kit) into one factory of 100–300 KiB, so lazily it was pre-parsed twice before its
 * first line ran: about 10 ms of every bundle's start (README, Benchmarks, Cold start). Same code, same behaviour;
 * acorn is the parser terser itself uses.
 */
function eagerModuleFactories(code) {
  const program = parse(code, { ecmaVersion: 'latest', sourceType: 'module' });
  const tables = program.body
    .map((node) => (node.type === 'ExportNamedDeclaration' ? node.declaration : node))
    .filter((node) => node?.type === 'VariableDeclaration')
    .flatMap((node) => node.declarations.map((declaration) => declaration.init))
    .filter(
      (init) =>
        init?.type === 'ObjectExpression' &&
        init.properties.length > 0 &&
        init.properties.every((property) => typeof property.key?.value === 'number'),
    );
  const factories = tables
    .flatMap((table) => table.properties.map((property) => property.value))
    .filter((value) => value.type === 'ArrowFunctionExpression' || value.type === 'FunctionExpression')
    .sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const { start, end } of factories) {
    parts.push(code.slice(at, start), '(', code.slice(start, end), ')');
    at = end;
  }
  parts.push(code.slice(at));
  return parts.join('');
}

/**
 * Node builtins that cost a start several milliseconds to load (node:crypto about 7, node:zlib 4, node:child_process
 * with net and dgram 3) and that most steps need only later, or never (verify-bundle-sha on a bundle on disk needs
 * no child_process; release-switch no zlib; no step that stops at an input error needs any). Each exports a plain
 * object, not a function or class (which a proxy could not stand in for: events, stream, assert, module).
 */
const LAZY_BUILTINS = new Set(
  [
    'child_process',
    'crypto',
    'dgram',
    'dns',
    'dns/promises',
    'http',
    'http2',
    'https',
    'net',
    'readline',
    'readline/promises',
    'sqlite',
    'tls',
    'v8',
    'vm',
    'worker_threads',
    'zlib',
  ].flatMap((name) => [name, `node:${name}`]),
);
const LAZY_LOADER = '__deployGatesLazyBuiltin';

/**
 * Loads the builtins of LAZY_BUILTINS on first use instead of at start. ncc turns `import { spawn } from
 * 'node:child_process'` (and a CommonJS `require`) into `<createRequire>(import.meta.url)("node:child_process")`
 * evaluated when the module loads, and uses the result as `(0,x.spawn)(…)`. Each such call becomes a proxy that
 * makes the same call on its first property access and forwards every operation to the builtin from then on — the
 * same object for the code that uses it, loaded when first used. Nothing of the source changes, so core keeps its
 * plain imports; the bundle tests run these files.
 */
function lazyBuiltins(code) {
  const program = parse(code, { ecmaVersion: 'latest', sourceType: 'module' });
  const requireMaker = program.body
    .filter((node) => node.type === 'ImportDeclaration' && /^(node:)?module$/.test(node.source.value))
    .flatMap((node) => node.specifiers)
    .find((specifier) => specifier.imported?.name === 'createRequire')?.local.name;
  if (!requireMaker) return code;
  if (code.includes(LAZY_LOADER)) throw new Error(`the bundle already uses the name ${LAZY_LOADER}`);
  const calls = [];
  simpleWalk(program, (node) => {
    const maker = node.type === 'CallExpression' && node.callee.type === 'CallExpression' ? node.callee : undefined;
    if (
      maker?.callee.type === 'Identifier' &&
      maker.callee.name === requireMaker &&
      maker.arguments[0]?.type === 'MemberExpression' &&
      maker.arguments[0].object.type === 'MetaProperty' &&
      node.arguments.length === 1 &&
      LAZY_BUILTINS.has(node.arguments[0].value)
    )
      calls.push(node);
  });
  if (calls.length === 0) return code;
  calls.sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const { start, end } of calls) {
    parts.push(code.slice(at, start), `${LAZY_LOADER}(()=>`, code.slice(start, end), ')');
    at = end;
  }
  parts.push(code.slice(at));
  // After the imports (a module's imports are hoisted anyway); every replaced call is inside a function or later.
  const lastImport = program.body.filter((node) => node.type === 'ImportDeclaration').at(-1);
  const body = parts.join('');
  return body.slice(0, lastImport.end) + lazyLoaderSource() + body.slice(lastImport.end);
}

// The proxy's target is an empty object only so that the proxy may report the builtin's properties as configurable.
// `__esModule` is answered without loading: webpack's interop (`__nccwpck_require__.n`) asks every CommonJS import for
// it when the importing module loads, and a builtin never has it.
function lazyLoaderSource() {
  return (
    `const ${LAZY_LOADER}=t=>{let m;const o=()=>m??=t();return new Proxy({},{get:(e,k)=>k==="__esModule"?undefined:o()[k],` +
    'set:(e,k,v)=>Reflect.set(o(),k,v),has:(e,k)=>k in o(),ownKeys:()=>Reflect.ownKeys(o()),' +
    'getOwnPropertyDescriptor:(e,k)=>{const d=Reflect.getOwnPropertyDescriptor(o(),k);return d&&{...d,configurable:true}},' +
    'defineProperty:(e,k,d)=>Reflect.defineProperty(o(),k,d),deleteProperty:(e,k)=>Reflect.deleteProperty(o(),k),' +
    'getPrototypeOf:()=>Reflect.getPrototypeOf(o())})};'
  );
}

function simpleWalk(node, visit) {
  visit(node);
  for (const key in node) {
    const value = node[key];
    const children = Array.isArray(value) ? value : [value];
    for (const child of children) if (typeof child?.type === 'string') simpleWalk(child, visit);
  }
}

// ncc's errors embed webpack's stack and whole lines of its minified source (megabytes); keep what names the problem.
function conciseError(error) {
  const lines = String(error?.message ?? error)
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '' && !/^\s*at /.test(line) && !/^\s*\* .*loaders\//.test(line));
  const shown = lines.slice(0, 12).map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line));
  return `${shown.join('\n')}${lines.length > shown.length ? `\n(${lines.length - shown.length} more lines)` : ''}`;
}
