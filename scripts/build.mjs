// Builds everything with esbuild: the CLIs and Electron entry points (Node, CommonJS, dependencies
// left in node_modules) and the renderer (browser bundle with React). Runs on `npm install`.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  absWorkingDir: root,
};

// a web page: React and everything else bundled, plus its index.html and styles.css
const page = (from, to) =>
  build({
    entryPoints: [`${from}/main.tsx`],
    outfile: `${to}/app.js`,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: ['chrome120'],
    jsx: 'automatic',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    absWorkingDir: root,
  }).then(() => {
    for (const f of ['index.html', 'styles.css']) fs.copyFileSync(path.join(root, from, f), path.join(root, to, f));
  });

// `pim roles` / `pim status` without the full CLI's start-up (bin/pim.cjs tries it first; see
// agent/cli/fast-main.ts). Start-up is mostly loading code, so this bundle carries
// better-sqlite3's JavaScript (a dozen files to resolve and read otherwise; its addon stays in
// node_modules, and fast-run.ts checks the installed version is the one bundled) and leaves out
// what the agent loads only to refresh or journal, which this path never does.
function fast() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const sqlite = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/better-sqlite3/package.json'), 'utf8'));
  const notHere = {
    name: 'not-on-the-fast-path',
    setup(b) {
      b.onResolve({ filter: /\/(audit\/journal|policy\/refresh)$/ }, (a) => ({ path: a.path, namespace: 'not-here' }));
      b.onLoad({ filter: /.*/, namespace: 'not-here' }, (a) => ({
        contents: `throw new Error(${JSON.stringify(`${a.path} is not part of pim-fast.cjs`)});`,
        loader: 'js',
      }));
    },
  };
  return build({
    ...node,
    packages: undefined,
    external: [...Object.keys(pkg.dependencies).filter((d) => d !== 'better-sqlite3'), 'bindings'],
    define: { 'process.env.PIM_FAST_SQLITE_VERSION': JSON.stringify(sqlite.version) },
    plugins: [notHere],
    entryPoints: ['agent/cli/fast-main.ts'],
    outfile: 'dist/pim-fast.cjs',
  });
}

await Promise.all([
  build({ ...node, entryPoints: ['app/pim.ts'], outfile: 'dist/pim.cjs' }),
  fast(),
  build({ ...node, entryPoints: ['server/main.ts'], outfile: 'dist/pim-server.cjs' }),
  build({ ...node, entryPoints: ['electron/main/main.ts'], outfile: 'dist/electron-main.cjs', external: ['electron'] }),
  // a sandboxed preload can require only 'electron': bundle everything else into it (the contract
  // and zod, whose keys give the method list), minified like the page it serves
  build({
    ...node,
    packages: undefined,
    minify: true,
    entryPoints: ['electron/preload/preload.ts'],
    outfile: 'dist/preload.cjs',
    external: ['electron'],
  }),
  page('renderer', 'dist/renderer'),
  // the WebAuthn ceremony page the control plane serves at its own origin (docs/architecture.md, Decisions: WebAuthn
  // origin)
  page('renderer/ceremony', 'dist/ceremony'),
]);
process.stderr.write(`built dist/ in ${Math.round(performance.now() - t0)} ms\n`);
