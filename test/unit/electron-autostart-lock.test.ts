// Start at login (the XDG autostart entry) and roles that end when the session locks.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { autostartDesktopEntry, autostartDir, execArg } from '../../electron/main/autostart';
import { rolesToEndOnLock } from '../../electron/main/session-lock';

test('the autostart entry starts the tray app at login with its arguments quoted per the Desktop Entry spec', () => {
  const text = autostartDesktopEntry(['/opt/PIM Agent/pim-agent', '--hidden']);
  assert.equal(
    text,
    '[Desktop Entry]\nType=Application\nVersion=1.0\nName=PIM Agent\nComment=Just-in-time privileged access (tray)\nExec="/opt/PIM Agent/pim-agent" --hidden\nTerminal=false\nX-GNOME-Autostart-enabled=true\n',
  );
  assert.equal(execArg('100%'), '100%%', 'field codes are escaped');
  // quoted, escaped, then the string escape doubles every backslash (the spec's own example: four
  // backslashes for one literal backslash inside quotes)
  assert.equal(execArg('a"b$c'), String.raw`"a\\"b\\$c"`);
  assert.equal(execArg('C:\\x y'), String.raw`"C:\\\\x y"`);
  assert.throws(() => execArg('a\nExec=evil'), /control characters/);
  assert.throws(() => autostartDesktopEntry([]), /no command/);
});

test('the autostart folder follows XDG_CONFIG_HOME, else ~/.config', () => {
  assert.equal(autostartDir({}, '/home/alice'), '/home/alice/.config/autostart');
  assert.equal(autostartDir({ XDG_CONFIG_HOME: '/cfg' }, '/home/alice'), '/cfg/autostart');
  assert.equal(
    autostartDir({ XDG_CONFIG_HOME: 'relative' }, '/home/alice'),
    '/home/alice/.config/autostart',
    'a relative XDG path is ignored, as the spec says',
  );
});

test('on lock: only live activations of roles whose policy says onLock: deactivate, each role once', () => {
  const onLock = (r: string) => (r === 'prod-admin' || r === 'db-admin' ? ('deactivate' as const) : undefined);
  const acts = [
    { role: 'prod-admin', state: 'active' as const },
    { role: 'prod-admin', state: 'requested' as const },
    { role: 'readonly', state: 'active' as const },
    { role: 'db-admin', state: 'pending-approval' as const },
    { role: 'db-admin', state: 'expired' as const },
  ];
  assert.deepEqual(rolesToEndOnLock(acts, onLock), ['db-admin', 'prod-admin']);
  assert.deepEqual(rolesToEndOnLock([{ role: 'db-admin', state: 'deactivated' }], onLock), []);
  assert.deepEqual(
    rolesToEndOnLock(acts, () => undefined),
    [],
  );
});
