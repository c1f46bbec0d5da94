// electron-builder `afterPack`: set Electron's fuses in the packed binary, before signing (so the
// signature covers them). Each one closes a way to run code in the app's name without its asar:
//   RunAsNode off                         ELECTRON_RUN_AS_NODE=1 would turn the app into plain Node
//   EnableNodeOptionsEnvironmentVariable  NODE_OPTIONS=--require … would inject code
//   EnableNodeCliInspectArguments off     --inspect would open a debugger on the agent and its keys
//   OnlyLoadAppFromAsar on                no app/ folder next to the asar is loaded instead
//   EnableEmbeddedAsarIntegrityValidation the asar must match the hash electron-builder embeds
//   EnableCookieEncryption on             cookies on disk encrypted with the OS keychain key
// strictlyRequireAllFuses stays off: newer Electrons add fuses; the ones above are set explicitly.
'use strict';
const path = require('node:path');

/** The fuse settings, by @electron/fuses option name (the test reads them back from a binary). */
const FUSES = {
  RunAsNode: false,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  OnlyLoadAppFromAsar: true,
  EnableEmbeddedAsarIntegrityValidation: true,
  EnableCookieEncryption: true,
};

/** The file holding the fuse wire inside electron-builder's output for one platform. */
function electronBinary(context) {
  const { electronPlatformName, appOutDir, packager } = context;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') {
    // @electron/fuses finds the framework binary inside the .app
    return path.join(appOutDir, `${packager.appInfo.productFilename}.app`);
  }
  if (electronPlatformName === 'win32') return path.join(appOutDir, `${packager.appInfo.productFilename}.exe`);
  return path.join(appOutDir, packager.executableName);
}

async function afterPack(context, fuses) {
  const { flipFuses, FuseVersion, FuseV1Options } = fuses ?? (await import('@electron/fuses'));
  const config = { version: FuseVersion.V1 };
  for (const [name, on] of Object.entries(FUSES)) {
    if (FuseV1Options[name] === undefined)
      throw new Error(`@electron/fuses has no fuse ${name}: update build/after-pack.cjs`);
    config[FuseV1Options[name]] = on;
  }
  // flipping fuses breaks an arm64 mac binary's ad-hoc signature: re-sign it ad hoc (the real
  // signature comes after this hook)
  config.resetAdHocDarwinSignature = context.electronPlatformName === 'darwin' && [3, 4].includes(context.arch); // Arch.arm64, Arch.universal
  const binary = electronBinary(context);
  const wires = await flipFuses(binary, config);
  if (!wires) throw new Error(`no fuse wire found in ${binary}`);
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
module.exports.electronBinary = electronBinary;
