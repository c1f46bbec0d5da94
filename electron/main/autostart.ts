// Start at login (a setting, off by default). macOS and Windows: app.setLoginItemSettings. Linux:
// an XDG autostart entry, ~/.config/autostart/pim-agent.desktop, whose content is decided here. Pure.
import path from 'node:path';

export const AUTOSTART_FILE = 'pim-agent.desktop';

/** $XDG_CONFIG_HOME/autostart (default ~/.config/autostart). */
export function autostartDir(env: Record<string, string | undefined>, home: string): string {
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(base, 'autostart');
}

/**
 * One Exec argument as the Desktop Entry spec wants it: with reserved characters, in double quotes
 * with double quote, backtick, dollar and backslash escaped by a backslash; then the spec's string
 * escape doubles every backslash over the whole — one literal backslash inside quotes is four.
 */
export function execArg(arg: string): string {
  if (/[\u0000-\u001f\u007f]/.test(arg)) throw new Error('a start-at-login command cannot contain control characters');
  // '%' is a field code in Exec: written %%
  const escaped = arg.replace(/%/g, '%%');
  const quoted = /[\s"'\\><~|&;$*?#()`]/.test(escaped) ? `"${escaped.replace(/(["`$\\])/g, '\\$1')}"` : escaped;
  return quoted.replace(/\\/g, '\\\\');
}

/** The .desktop file: starts the tray app hidden at login. */
export function autostartDesktopEntry(command: readonly string[]): string {
  if (command.length === 0) throw new Error('no command to start at login');
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=PIM Agent',
    'Comment=Just-in-time privileged access (tray)',
    `Exec=${command.map(execArg).join(' ')}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}
