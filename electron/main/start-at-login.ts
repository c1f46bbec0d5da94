// The "Start at login" setting (off until the user ticks it) and where it takes effect: macOS and
// Windows through app.setLoginItemSettings, Linux through an XDG autostart entry (its content is
// autostart.ts's). The setting itself is a 0600 file in the agent's home.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { app } from 'electron';
import { resolveHome } from '../../agent/home';
import { AUTOSTART_FILE, autostartDesktopEntry, autostartDir } from './autostart';

const SETTINGS_FILE = 'desktop-settings.json';

export interface DesktopSettings {
  startAtLogin: boolean;
}

function settingsPath(): string {
  return path.join(resolveHome(), SETTINGS_FILE);
}

/** Start at login is off unless the user turned it on. */
export function readSettings(): DesktopSettings {
  try {
    const v = JSON.parse(fs.readFileSync(settingsPath(), 'utf8')) as { startAtLogin?: unknown };
    return { startAtLogin: v.startAtLogin === true };
  } catch {
    return { startAtLogin: false };
  }
}

export function setStartAtLogin(on: boolean): void {
  const file = settingsPath();
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ startAtLogin: on }), { mode: 0o600 });
  fs.renameSync(tmp, file);
  if (process.platform === 'linux') {
    // XDG autostart: Electron's setLoginItemSettings does nothing on Linux
    const dir = autostartDir(process.env, os.homedir());
    const entry = path.join(dir, AUTOSTART_FILE);
    if (on) {
      fs.mkdirSync(dir, { recursive: true });
      // an AppImage runs from a temporary mount: start the image itself
      const command = app.isPackaged
        ? [process.env.APPIMAGE ?? process.execPath]
        : [process.execPath, app.getAppPath()];
      fs.writeFileSync(`${entry}.tmp`, autostartDesktopEntry(command), { mode: 0o644 });
      fs.renameSync(`${entry}.tmp`, entry);
    } else {
      fs.rmSync(entry, { force: true });
    }
  } else {
    app.setLoginItemSettings({ openAtLogin: on });
  }
}
