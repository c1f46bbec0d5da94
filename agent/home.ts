// Where the agent keeps its state: $PIM_HOME, else --home, else the OS's per-user app data folder.
// The folder is 0700 (platform/fs-safe's ensurePrivateDir): it holds the policy cache and credentials.
import os from 'node:os';
import path from 'node:path';

export function defaultHome(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'PIM Agent');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'PIM Agent');
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'pim-agent');
}

export function resolveHome(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag || env.PIM_HOME || defaultHome(env));
}
