// ESLint 9 flat config: typescript-eslint's recommended rules, the project's import boundaries (no import cycles among
// the suite's own modules), and its function size.
// `npm run lint` (eslint, then prettier --check) runs first in `npm test`.
import { existsSync, readdirSync } from 'node:fs';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The core domains that have a public face (packages/core/src/<domain>/index.ts): an action imports such a domain
 * through its index only. Read from the tree, so each domain is held to it as soon as its index.ts exists.
 */
const facedDomains = readdirSync(new URL('./packages/core/src/', import.meta.url), { withFileTypes: true })
  .filter(
    (entry) =>
      entry.isDirectory() && existsSync(new URL(`./packages/core/src/${entry.name}/index.ts`, import.meta.url)),
  )
  .map((entry) => entry.name);

/** Node's globals for the plain JavaScript files (scripts, bench runner, Jest support in .cjs/.mjs). */
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'performance',
    'structuredClone',
    'AbortController',
    'TextEncoder',
    'TextDecoder',
    'fetch',
    'module',
    'require',
    '__dirname',
    '__filename',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'action-docs/**', 'schemas/**', 'examples/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: nodeGlobals },
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      // Hostile names (archive entries, release names) are checked for control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // A test's describe block is a list of cases, not a function to keep short.
    files: ['test/**', 'bench/**'],
    rules: { 'max-lines-per-function': 'off' },
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Core is the library: it knows nothing of the envelope, @actions/core or action inputs.
    files: ['packages/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // Regexes, not gitignore-style groups: there a pattern that starts with `#` (the package's import aliases)
          // is a comment and matches nothing.
          patterns: [
            { regex: '^#action-kit/|/action-kit/', message: 'core never imports action-kit' },
            { regex: '^#cli/|/cli/src/', message: 'core never imports the CLI' },
            {
              regex: '^@actions/core(/|$)',
              message: 'core never imports @actions/core (the envelope is its only user)',
            },
          ],
        },
      ],
    },
  },
  {
    // No module imports itself through others (a circle of files, which farm-studio draws orange): types a circle
    // shares go to a module of their own. Dynamic `import()` counts; `import type` is not followed by this rule.
    files: ['packages/**/*.ts', 'actions/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['actions/*/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: facedDomains.map((domain) => ({
            regex: `^#core/${domain}/(?!index\\.js$)`,
            message: `import the ${domain} domain through its public face, #core/${domain}/index.js`,
          })),
        },
      ],
    },
  },
);
