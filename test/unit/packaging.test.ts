// The installer configuration (build/electron-builder.config.cjs) and its afterPack hook. A real
// installer needs Electron's binary, which these machines cannot download; so:
//  - the config is checked for what each OS gets (targets, hardened runtime, entitlements, icons);
//  - the afterPack hook runs the real @electron/fuses against stand-in binaries that carry
//    Electron's fuse wire (the sentinel, version 1, a wire of "0"/"1" bytes), for each OS layout;
//  - the real electron-builder packs the app for Linux (`--dir`) around such a stand-in Electron
//    (`electronDist`), and the result is inspected: what is in app.asar, what is unpacked next to
//    it, and the fuses of the packed binary.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { ROOT, tmpDir } from '../helpers/repo';

type Fuses = typeof import('@electron/fuses');
type FuseState = import('@electron/fuses').FuseState;
interface AfterPack {
  (context: unknown, fuses?: Fuses): Promise<void>;
  FUSES: Record<string, boolean>;
}
interface Config {
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  afterPack: string;
  npmRebuild: boolean;
  protocols: { schemes: string[] }[];
  linux: { target: string[]; icon: string };
  mac: {
    target: string[];
    icon: string;
    hardenedRuntime: boolean;
    entitlements: string;
    entitlementsInherit: string;
    extendInfo: Record<string, unknown>;
  };
  win: { target: string[]; icon: string };
  nsis: { installerIcon: string; uninstallerIcon: string };
  dmg: { icon: string };
}

const config = require(path.join(ROOT, 'build', 'electron-builder.config.cjs')) as Config;
const afterPack = require(path.join(ROOT, 'build', 'after-pack.cjs')) as AfterPack;
const fuses = (): Promise<Fuses> => import('@electron/fuses');

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** Electron's fuse wire as a fresh Electron ships it: RunAsNode, cookies, NODE_OPTIONS, --inspect on… */
const STOCK_WIRE = '101100011';

/** A file shaped like an Electron binary as far as fuses go: bytes, the sentinel, v1, the wire. */
function fakeElectron(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const wire = Buffer.from(STOCK_WIRE, 'latin1');
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('\x7fELF stand-in for Electron\n'),
      Buffer.alloc(8192, 0x90),
      Buffer.from(SENTINEL),
      Buffer.from([1, wire.length]),
      wire,
      Buffer.alloc(8192, 0x90),
    ]),
    { mode: 0o755 },
  );
}

/** The fuse wire of `binary`, by option name: true on, false off. */
async function readFuses(binary: string): Promise<Record<string, boolean>> {
  const { getCurrentFuseWire, FuseV1Options, FuseState } = await fuses();
  const wire = (await getCurrentFuseWire(binary)) as unknown as Record<string, FuseState>;
  const out: Record<string, boolean> = {};
  for (const [i, state] of Object.entries(wire))
    if (i !== 'version') out[FuseV1Options[Number(i)]!] = state === FuseState.ENABLE;
  return out;
}

const EXPECTED_FUSES = {
  RunAsNode: false,
  EnableCookieEncryption: true,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  // the rest stay as Electron ships them
  LoadBrowserProcessSpecificV8Snapshot: false,
  GrantFileProtocolExtraPrivileges: true,
  WasmTrapHandlers: true,
};

test('targets: AppImage and deb on Linux, a hardened-runtime dmg on macOS, NSIS on Windows', () => {
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.deepEqual(config.mac.target, ['dmg']);
  assert.deepEqual(config.win.target, ['nsis']);
  assert.equal(config.mac.hardenedRuntime, true);
  assert.equal(config.mac.extendInfo.LSUIElement, true, 'a tray app: no Dock icon');
  assert.deepEqual(
    config.protocols.flatMap((p) => p.schemes),
    ['pim-agent'],
    'deep links are registered',
  );
  for (const plist of [config.mac.entitlements, config.mac.entitlementsInherit]) {
    const text = fs.readFileSync(path.join(ROOT, plist), 'utf8');
    assert.match(text, /<plist version="1.0">/);
    const keys = [...text.matchAll(/<key>([^<]+)<\/key>/g)].map((m) => m[1]);
    // only what V8 needs; none of the exceptions that let other code into the process
    assert.ok(keys.includes('com.apple.security.cs.allow-jit'), plist);
    for (const k of keys)
      assert.ok(
        ['com.apple.security.cs.allow-jit', 'com.apple.security.inherit'].includes(k!),
        `${plist}: unexpected entitlement ${k}`,
      );
  }
});

test('every icon the config names exists at the size its OS wants', () => {
  for (const ico of [config.win.icon, config.nsis.installerIcon, config.nsis.uninstallerIcon]) {
    const buf = fs.readFileSync(path.join(ROOT, ico));
    assert.deepEqual([buf.readUInt16LE(0), buf.readUInt16LE(2)], [0, 1], `${ico} is an ICO`);
    const sizes = Array.from({ length: buf.readUInt16LE(4) }, (_, i) => buf.readUInt8(6 + 16 * i) || 256);
    assert.ok(sizes.includes(256) && sizes.includes(16), `${ico}: 16 to 256 px (${sizes.join(',')})`);
  }
  for (const icns of [config.mac.icon, config.dmg.icon])
    assert.equal(fs.readFileSync(path.join(ROOT, icns)).toString('latin1', 0, 4), 'icns', icns);
  // Linux: a folder of <n>x<n>.png; electron-builder wants at least 256 px
  const linux = fs.readdirSync(path.join(ROOT, config.linux.icon)).filter((f) => /^\d+x\d+\.png$/.test(f));
  assert.ok(linux.includes('256x256.png') && linux.includes('512x512.png'), linux.join(','));
  for (const f of linux) {
    const buf = fs.readFileSync(path.join(ROOT, config.linux.icon, f));
    assert.equal(`${buf.readUInt32BE(16)}x${buf.readUInt32BE(20)}.png`, f, 'the name says its size');
  }
});

test('afterPack sets the six fuses with @electron/fuses, in the binary of each OS layout', async () => {
  assert.equal(config.afterPack, './build/after-pack.cjs');
  const dir = tmpDir('pim-fuses-');
  const packager = { appInfo: { productFilename: 'PIM Agent' }, executableName: 'pim-agent' };
  const layouts = [
    { electronPlatformName: 'linux', arch: 1, binary: 'linux/pim-agent' },
    { electronPlatformName: 'win32', arch: 1, binary: 'win/PIM Agent.exe' },
    // on macOS the wire lives in the framework, not in the app's launcher
    {
      electronPlatformName: 'darwin',
      arch: 1,
      binary: 'mac/PIM Agent.app/Contents/Frameworks/Electron Framework.framework/Electron Framework',
    },
  ];
  for (const l of layouts) {
    const file = path.join(dir, l.binary);
    fakeElectron(file);
    // the mac launcher holds no wire: the hook must find the framework from the .app
    if (l.electronPlatformName === 'darwin')
      fs.mkdirSync(path.join(dir, 'mac/PIM Agent.app/Contents/MacOS'), { recursive: true });
    const appOutDir = path.join(dir, l.binary.split('/')[0]!);
    await afterPack({ electronPlatformName: l.electronPlatformName, arch: l.arch, appOutDir, packager });
    assert.deepEqual(await readFuses(file), EXPECTED_FUSES, l.electronPlatformName);
  }
  // the hook passes exactly the six options (and the wire version) to flipFuses
  const real = await fuses();
  let seen: Record<string, unknown> = {};
  await afterPack(
    { electronPlatformName: 'linux', arch: 1, appOutDir: path.join(dir, 'linux'), packager },
    {
      ...real,
      flipFuses: async (_p: string, c: unknown) => ((seen = c as Record<string, unknown>), 1),
    },
  );
  const named = Object.fromEntries(
    Object.entries(seen)
      .filter(([k]) => /^\d+$/.test(k))
      .map(([k, v]): [string, unknown] => [real.FuseV1Options[Number(k)]!, v]),
  );
  assert.deepEqual(named, afterPack.FUSES);
  assert.equal(Object.keys(named).length, 6);
  assert.equal(seen.version, real.FuseVersion.V1);
  assert.equal(seen.strictlyRequireAllFuses, undefined);
});

test('afterPack fails the build when the binary has no fuse wire', async () => {
  const dir = tmpDir('pim-fuses-');
  fs.writeFileSync(path.join(dir, 'pim-agent'), 'not electron');
  await assert.rejects(
    afterPack({
      electronPlatformName: 'linux',
      arch: 1,
      appOutDir: dir,
      packager: { executableName: 'pim-agent', appInfo: { productFilename: 'PIM Agent' } },
    }),
    /sentinel/,
  );
});

test('electron-builder packs the app around a stand-in Electron: dist in app.asar, native modules beside it, fuses set', async () => {
  // dist/ must exist (scripts/test.mjs builds it first)
  for (const f of ['electron-main.cjs', 'preload.cjs', 'renderer/index.html'])
    assert.ok(fs.existsSync(path.join(ROOT, 'dist', f)), `dist/${f} (run npm run build)`);
  const dir = tmpDir('pim-dist-');
  const electronDist = path.join(dir, 'electron');
  fakeElectron(path.join(electronDist, 'electron'));
  fs.writeFileSync(path.join(electronDist, 'LICENSE'), 'stand-in');
  const out = path.join(dir, 'release');
  const eb = path.join(ROOT, 'node_modules', 'electron-builder', 'cli.js');
  const r = spawnSync(
    process.execPath,
    // npmRebuild off: rebuilding better-sqlite3 for Electron needs Electron's headers (a download)
    [
      eb,
      '--linux',
      'dir',
      '--config',
      'build/electron-builder.config.cjs',
      `-c.electronDist=${electronDist}`,
      '-c.npmRebuild=false',
      '-c.electronVersion=45.4.1',
      `-c.directories.output=${out}`,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, ELECTRON_BUILDER_CACHE: path.join(dir, 'cache'), CI: 'true' },
    },
  );
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const unpacked = path.join(out, 'linux-unpacked');
  const binary = path.join(unpacked, 'pim-agent');
  assert.deepEqual(await readFuses(binary), EXPECTED_FUSES, 'afterPack ran on the packed binary');

  const asar = require('@electron/asar') as {
    listPackage(p: string, o: object): string[];
    statFile(p: string, f: string): { unpacked?: boolean };
  };
  const archive = path.join(unpacked, 'resources', 'app.asar');
  const entries = asar.listPackage(archive, {}).map((e) => e.replace(/\\/g, '/'));
  const has = (e: string) => entries.includes(e);
  for (const e of [
    '/package.json',
    '/dist/electron-main.cjs',
    '/dist/preload.cjs',
    '/dist/renderer/index.html',
    '/dist/renderer/app.js',
    '/dist/renderer/styles.css',
    '/build/icons/tray.png',
  ])
    assert.ok(has(e), `${e} is in app.asar`);
  for (const s of ['idle', 'active', 'pending', 'offline', 'error'])
    for (const v of ['', '@2x', 'Template', 'Template@2x'])
      assert.ok(has(`/build/icons/tray-${s}${v}.png`), `tray-${s}${v}.png in app.asar`);
  const outside = entries.filter((e) => !e.startsWith('/node_modules/'));
  for (const e of outside) {
    assert.doesNotMatch(
      e,
      /\.(ts|tsx|map)$|^\/(test|electron|renderer|server|shared|scripts|bench|stress|examples|docs)\//,
      `${e} is a source or test file`,
    );
  }
  assert.ok(
    !has('/dist/pim.cjs') && !has('/dist/pim-server.cjs') && !has('/dist/ceremony'),
    'the CLI and server bundles are not part of the app',
  );
  assert.ok(
    !has('/build/icons/source.svg') && !has('/build/after-pack.cjs') && !has('/build/app'),
    'build resources stay out',
  );
  assert.ok(
    has('/node_modules/zod/package.json') && has('/node_modules/better-sqlite3/package.json'),
    'production dependencies are in',
  );
  assert.ok(
    !entries.some((e) =>
      /^\/node_modules\/(electron|electron-builder|typescript|playwright-core|esbuild|react)\//.test(e),
    ),
    'no dev dependency is packed',
  );

  // native code must be a real file on disk (dlopen cannot read inside an archive)
  const natives = entries.filter((e) => e.endsWith('.node'));
  assert.ok(
    natives.some((e) => e.endsWith('/better_sqlite3.node')),
    natives.join(','),
  );
  assert.ok(
    natives.some((e) => /@napi-rs\/keyring-[^/]+\/keyring\.[^/]+\.node$/.test(e)),
    natives.join(','),
  );
  for (const e of natives) {
    assert.equal(asar.statFile(archive, e.slice(1)).unpacked, true, `${e} is unpacked`);
    assert.ok(
      fs.existsSync(path.join(unpacked, 'resources', 'app.asar.unpacked', e)),
      `${e} is on disk next to app.asar`,
    );
  }
  assert.ok(!entries.some((e) => /better-sqlite3\/(src|deps)\//.test(e)), 'better-sqlite3 ships without its C sources');
});
