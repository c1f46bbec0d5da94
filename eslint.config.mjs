// Lint, mostly to enforce the layer boundaries of DESIGN §2:
//   shared/         imports nothing of ours and no Node built-in (it runs in the renderer too)
//   electron/core/  never imports electron, react or renderer/
//   renderer/       never imports Node built-ins, electron, or electron/core
//   server/         imports shared/ only
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'util', 'stream', 'tls', 'dgram', 'worker_threads', 'cluster', 'url', 'zlib', 'readline', 'vm', 'events', 'buffer', 'process'];
const builtinPatterns = [...NODE_BUILTINS, ...NODE_BUILTINS.map((m) => `${m}/*`)];

const restrict = (patterns, message) => ['error', { patterns: [{ group: patterns, message }] }];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(['node:*', ...builtinPatterns, '**/electron/**', '**/server/**', '**/renderer/**', 'electron', 'react', 'better-sqlite3', 'tuf-js'], 'shared/ is pure: it runs in the agent, the server and the renderer alike'),
    },
  },
  {
    files: ['electron/core/**/*.ts'],
    ignores: ['electron/core/cli/start.ts'],
    rules: {
      'no-restricted-imports': restrict(['electron', 'electron/*', 'react', 'react-dom', 'react/*', '**/renderer/**', '**/electron/main/**', '**/electron/preload/**', '**/server/**'], 'electron/core runs under plain Node (pim agent); keep Electron and UI out'),
    },
  },
  {
    // the one place the agent reaches the server: `npm start` embeds the demo control plane
    files: ['electron/core/cli/start.ts'],
    rules: {
      'no-restricted-imports': restrict(['electron', 'electron/*', 'react', 'react-dom', '**/renderer/**', '**/electron/main/**'], 'electron/core runs under plain Node'),
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    rules: {
      'no-restricted-imports': restrict(['node:*', ...builtinPatterns, 'electron', '**/electron/**', '**/server/**', 'better-sqlite3', 'tuf-js'], 'the renderer is a web page: no Node, no agent internals — talk through shared/api'),
    },
  },
  {
    files: ['server/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(['electron', 'react', '**/electron/**', '**/renderer/**'], 'server/ may import shared/ only'),
    },
  },
  {
    files: ['electron/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(['**/electron/core/**', '**/server/**', 'node:*', ...builtinPatterns], 'the preload exposes the contract and nothing else'),
    },
  },
);
