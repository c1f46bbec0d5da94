// Lint: TypeScript's recommended rules, type-aware (every promise is awaited, returned or marked
// `void`), and the layering of the folders — stated once, by folder, in layers() below (the README's
// "Layout" says the same in words).
import fs from 'node:fs';
import path from 'node:path';
import tseslint from 'typescript-eslint';

// The type-aware rules read the TypeScript program of tsconfig.json; a file outside its "include"
// (and every .js/.mjs/.cjs file) is linted without types.
const TS = '**/*.{ts,tsx,mts,cts}';
const tsconfig = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'tsconfig.json'), 'utf8'));
const TYPED = tsconfig.include.map((p) => (/[*.]/.test(p) ? p : `${p}/${TS}`));

const NODE_BUILTINS = [
  'fs',
  'path',
  'os',
  'child_process',
  'net',
  'http',
  'https',
  'crypto',
  'util',
  'stream',
  'tls',
  'dgram',
  'worker_threads',
  'cluster',
  'url',
  'zlib',
  'readline',
  'vm',
  'events',
  'buffer',
  'process',
];
const builtinPatterns = ['node:*', ...NODE_BUILTINS, ...NODE_BUILTINS.map((m) => `${m}/*`)];

// Our folders that are layers. Tests, benchmarks and scripts may import any of them.
const OURS = ['shared', 'platform', 'agent', 'server', 'renderer', 'electron/main', 'electron/preload', 'app'];

// A layer may import the folders of ours it lists; Node built-ins and Node-only packages only if it
// runs under Node; Electron only in electron/; React only in the renderer.
function layers(spec) {
  return Object.entries(spec).map(([dir, { may, node = false, electron = false, react = false, why }]) => {
    const group = [
      ...OURS.filter((d) => d !== dir && !may.includes(d)).map((d) => `**/${d}/**`),
      ...(node ? [] : [...builtinPatterns, 'better-sqlite3', 'tuf-js']),
      ...(electron ? [] : ['electron', 'electron/*']),
      ...(react ? [] : ['react', 'react/*', 'react-dom', 'react-dom/*']),
    ];
    return {
      files: [`${dir}/**/*.ts`, `${dir}/**/*.tsx`],
      rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message: why }] }] },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'native/**', 'test-results/**', 'playwright-report/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // An interface's async method may answer without awaiting anything (a fake, a cached value).
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-require-imports': 'off',
      'no-control-regex': 'off',
    },
  },
  { files: ['**/*.{js,mjs,cjs}'], ...tseslint.configs.disableTypeChecked },
  { files: [TS], ignores: TYPED, ...tseslint.configs.disableTypeChecked },
  ...layers({
    shared: { may: [], why: 'shared/ is pure: it runs in the agent, the server and the renderer alike' },
    platform: {
      may: ['shared'],
      node: true,
      why: 'platform/ holds Node-only helpers the agent and the server share: it imports shared/ only',
    },
    agent: {
      may: ['shared', 'platform'],
      node: true,
      why: 'agent/ runs under plain Node (pim agent): no Electron, UI or control plane',
    },
    server: {
      may: ['shared', 'platform'],
      node: true,
      why: 'server/ is the control plane: it imports shared/ and platform/ only',
    },
    renderer: {
      may: ['shared'],
      react: true,
      why: 'the renderer is a web page: no Node, no agent internals; it talks through shared/api',
    },
    'electron/preload': { may: ['shared'], electron: true, why: 'the preload exposes the contract and nothing else' },
    'electron/main': {
      may: ['shared', 'agent'],
      node: true,
      electron: true,
      why: 'the Electron main process hosts the agent; it never reaches the control plane or the renderer code',
    },
    app: {
      may: ['shared', 'platform', 'agent', 'server'],
      node: true,
      why: 'app/ holds the entry points that wire the agent and the control plane together',
    },
  }),
);
