// electron-builder configuration for the PIM Agent tray app (`npm run dist`).
// What ships: the esbuild output the Electron process loads (main, preload, renderer) and the tray
// icons; production dependencies come from node_modules (electron-builder copies them and rebuilds
// native ones for Electron's ABI). Sources, tests, the CLI bundles and maps stay out.
// Checked by test/unit/packaging.test.ts; electron-builder itself downloads Electron, so the
// installers are built on a machine with internet access (README, "Packaging").
'use strict';

/** @type {import('electron-builder').Configuration} */
module.exports = {
  appId: 'dev.pim-agent.desktop',
  productName: 'PIM Agent',
  executableName: 'pim-agent',
  copyright: 'Copyright © 2026 the PIM Agent authors',
  directories: { output: 'release', buildResources: 'build' },
  files: [
    'package.json',
    'dist/electron-main.cjs',
    'dist/preload.cjs',
    'dist/renderer/**',
    'build/icons/tray*.png',
    '!**/*.map',
    // better-sqlite3's C sources and its test extension are for building it, not running it
    '!node_modules/better-sqlite3/{src,deps}/**',
    '!node_modules/better-sqlite3/build/Release/test_extension.node',
    '!node_modules/better-sqlite3/build/{deps,Release/obj,Release/.deps}/**',
  ],
  // the app is loaded from app.asar only (OnlyLoadAppFromAsar below); native code cannot be
  // dlopen()ed from inside an archive, so the modules with .node files live next to it
  asar: true,
  asarUnpack: ['**/*.node', 'node_modules/better-sqlite3/**', 'node_modules/@napi-rs/keyring*/**'],
  // better-sqlite3 is built against V8's ABI: the packaged app needs Electron's build of it
  npmRebuild: true,
  afterPack: './build/after-pack.cjs',
  protocols: [{ name: 'PIM Agent', schemes: ['pim-agent'] }],
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Utility',
    icon: 'build/app',
    synopsis: 'Just-in-time privileged access from the tray',
    desktop: { entry: { StartupWMClass: 'pim-agent' } },
  },
  // the keychain (Secret Service) is how the agent keeps its device key on Linux
  deb: { depends: ['libsecret-1-0', 'libnotify4', 'libxss1', 'libnss3'] },
  mac: {
    target: ['dmg'],
    category: 'public.app-category.developer-tools',
    icon: 'build/app/icon.icns',
    hardenedRuntime: true,
    gatekeeperAssess: false,
    entitlements: 'build/entitlements.mac.plist',
    entitlementsInherit: 'build/entitlements.mac.inherit.plist',
    // a tray app: no Dock icon, no app menu
    extendInfo: { LSUIElement: true },
  },
  dmg: { icon: 'build/app/icon.icns' },
  win: { target: ['nsis'], icon: 'build/app/icon.ico' },
  nsis: {
    oneClick: false,
    perMachine: false,
    allowToChangeInstallationDirectory: true,
    installerIcon: 'build/app/icon.ico',
    uninstallerIcon: 'build/app/icon.ico',
  },
};
