// Where npm's own node-gyp is: the one bundled with the npm that runs us, so building for Electron
// never fetches an unpinned node-gyp from the registry at `npm start` (`npx --yes node-gyp` did).
import fs from 'node:fs';
import path from 'node:path';

/**
 * npm tells its scripts (npm_config_node_gyp); run directly, npm sits next to this Node:
 * <prefix>/lib/node_modules/npm on Unix, <dir>/node_modules/npm on Windows. Null: not found.
 * @param {NodeJS.ProcessEnv} env
 * @param {string} execPath
 * @param {NodeJS.Platform} platform
 * @param {(file: string) => boolean} exists
 * @returns {string | null}
 */
export function npmNodeGyp(
  env = process.env,
  execPath = process.execPath,
  platform = process.platform,
  exists = (f) => fs.existsSync(f),
) {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const inNpm = ['node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'];
  const candidates = [
    env.npm_config_node_gyp,
    platform === 'win32'
      ? p.join(p.dirname(execPath), ...inNpm)
      : p.join(p.dirname(p.dirname(execPath)), 'lib', ...inNpm),
  ];
  for (const c of candidates) if (c && c.endsWith('.js') && exists(c)) return c;
  return null;
}
