import { gate, type Gate } from './model.js';

export const PRESETS = ['laravel', 'node', 'python', 'none'] as const;
export type Preset = (typeof PRESETS)[number];

/**
 * laravel: the seeds' 9 structure checks, then the two PHP checks they run before migrations:
 * the Composer autoloader loads without a fatal error, and artisan boots far enough to print its version.
 */
const laravel = (): Gate[] => [
  gate({ kind: 'file', path: 'artisan' }),
  gate({ kind: 'file', path: 'composer.json' }),
  gate({ kind: 'file', path: 'public/index.php' }),
  gate({ kind: 'file', path: 'vendor/autoload.php' }),
  gate({ kind: 'file', path: 'bootstrap/app.php' }),
  gate({ kind: 'dir', path: 'bootstrap/cache', writable: true }),
  gate({ kind: 'dir', path: 'storage', writable: true }),
  gate({ kind: 'dir', path: 'config', writable: false }),
  gate({ kind: 'dir', path: 'routes', writable: false }),
  gate({
    kind: 'command',
    name: 'php: vendor/autoload.php loads',
    command: `php -r "require 'vendor/autoload.php'; echo 'autoload-ok';"`,
    expectExit: 0,
    expectOutput: /autoload-ok/,
  }),
  gate({
    kind: 'command',
    name: 'php artisan --version',
    command: 'php artisan --version',
    expectExit: 0,
    expectOutput: /Laravel Framework/,
  }),
];

const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lock', 'bun.lockb'];

/**
 * node: package.json parses; dependencies are there (node_modules/, or at least a lockfile to install them from);
 * the target's node loads package.json and resolves its `main` entry when one is declared.
 */
const node = (): Gate[] => [
  gate({ kind: 'json', path: 'package.json', expect: [] }),
  gate({
    kind: 'command',
    name: 'dependencies: node_modules/ or a lockfile',
    command: [
      'if [ -d node_modules ]; then echo "node_modules/ present"; exit 0; fi',
      `for f in ${LOCKFILES.join(' ')}; do if [ -f "$f" ]; then echo "no node_modules/, lockfile $f"; exit 0; fi; done`,
      `echo "neither node_modules/ nor a lockfile (${LOCKFILES.join(', ')})" >&2; exit 1`,
    ].join('\n'),
    expectExit: 0,
  }),
  gate({
    kind: 'command',
    name: 'node loads package.json',
    command: `node -e "const p = require('./package.json'); if (p.main) require.resolve(require('node:path').resolve(p.main)); console.log('package-ok ' + (p.name || '') + ' on node ' + process.version)"`,
    expectExit: 0,
    expectOutput: /package-ok/,
  }),
];

/**
 * python: the project declares its dependencies (requirements.txt or pyproject.toml), and the interpreter the
 * release will use starts: the release's own virtualenv (.venv/bin/python) when it ships one, else python3.
 */
const python = (): Gate[] => [
  gate({
    kind: 'command',
    name: 'requirements.txt or pyproject.toml',
    command:
      'for f in requirements.txt pyproject.toml; do if [ -f "$f" ]; then echo "$f"; exit 0; fi; done\necho "neither requirements.txt nor pyproject.toml" >&2; exit 1',
    expectExit: 0,
  }),
  gate({
    kind: 'command',
    name: 'python starts (.venv if present)',
    command: `if [ -e .venv ]; then py=.venv/bin/python; else py=python3; fi\n"$py" -c "import sys; print('python-ok', sys.version.split()[0], sys.prefix)"`,
    expectExit: 0,
    expectOutput: /python-ok/,
  }),
];

export function presetGates(preset: Preset): Gate[] {
  switch (preset) {
    case 'laravel':
      return laravel();
    case 'node':
      return node();
    case 'python':
      return python();
    case 'none':
      return [];
  }
}
