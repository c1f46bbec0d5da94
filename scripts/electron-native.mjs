// Prepares the Electron-ABI build of better-sqlite3 that the tray app loads when started from a
// checkout (`npm start`), into native/electron-abi<ABI>-<platform>-<arch>/ — a folder of its own, so
// node_modules/better-sqlite3 stays the CLI's Node build. The agent picks it through
// agent/store/native-binding.ts. Without Electron's binary it says so in one line and exits 0
// (`pim start` then falls back to the web shell). Packaged apps don't need it: electron-builder
// rebuilds their native modules for Electron.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { npmNodeGyp } from './npm-node-gyp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const say = (l) => process.stderr.write(`electron-native: ${l}\n`);

function electronBinary() {
  try {
    const dir = path.dirname(require.resolve('electron/package.json'));
    const bin = path.join(dir, 'dist', fs.readFileSync(path.join(dir, 'path.txt'), 'utf8').trim());
    return fs.existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

const bin = electronBinary();
if (!bin) {
  say("Electron's binary is not installed; nothing to prepare (the CLI and the web shell use Node's build)");
  process.exit(0);
}
const electronVersion = JSON.parse(fs.readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
// the ABI as Electron itself reports it (no table to keep up to date)
const abi = execFileSync(bin, ['-p', 'process.versions.modules'], {
  env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  encoding: 'utf8',
}).trim();
const out = path.join(root, 'native', `electron-abi${abi}-${process.platform}-${process.arch}`);
const target = path.join(out, 'better_sqlite3.node');
const pkgDir = path.dirname(require.resolve('better-sqlite3/package.json'));
const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
const stamp = path.join(out, 'version.txt');
const want = `better-sqlite3 ${version} electron ${electronVersion}`;
if (fs.existsSync(target) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) process.exit(0);

say(`building better-sqlite3 ${version} for Electron ${electronVersion} (ABI ${abi}) into ${path.relative(root, out)}`);
// work on a copy: node_modules/better-sqlite3/build stays Node's
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-electron-native-'));
try {
  for (const f of ['package.json', 'binding.gyp', 'src', 'deps', 'lib'])
    fs.cpSync(path.join(pkgDir, f), path.join(work, f), { recursive: true });
  const run = (cmd, args) => spawnSync(cmd, args, { cwd: work, stdio: 'inherit' }).status === 0;
  // a prebuilt binary when the host is reachable, else a compile against Electron's headers
  const prebuild = path.join(
    path.dirname(require.resolve('prebuild-install/package.json', { paths: [pkgDir] })),
    'bin.js',
  );
  // the compile uses npm's bundled node-gyp (never one fetched unpinned from the registry)
  const gyp = npmNodeGyp();
  const compile = () => {
    if (!gyp) {
      say("npm's bundled node-gyp was not found (run this through npm: `npm run electron:native`)");
      return false;
    }
    return run(process.execPath, [
      gyp,
      'rebuild',
      '--release',
      `--target=${electronVersion}`,
      `--arch=${process.arch}`,
      '--runtime=electron',
      '--dist-url=https://electronjs.org/headers',
    ]);
  };
  const ok =
    run(process.execPath, [prebuild, '--runtime', 'electron', '--target', electronVersion, '--arch', process.arch]) ||
    compile();
  const built = path.join(work, 'build', 'Release', 'better_sqlite3.node');
  if (!ok || !fs.existsSync(built)) {
    // not fatal for `npm start`: the tray app then names the runtime, the module and this command
    say(
      'failed: neither a prebuilt binary nor a compile against Electron headers worked (see above); retry with `npm run electron:native`',
    );
    process.exit(0);
  }
  fs.mkdirSync(out, { recursive: true });
  fs.copyFileSync(built, target);
  fs.writeFileSync(stamp, want);
  say(`ready: ${path.relative(root, target)}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
