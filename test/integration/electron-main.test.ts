// The BUILT Electron main process (dist/electron-main.cjs) run under a recording, strict stand-in of
// Electron's main-process API (test/helpers/electron-stand-in.ts) against real agent homes (file
// keystore) and a real control plane: tray and icon per state, the menu as the state changes, IPC
// (exactly the contract, foreign senders and malformed input refused), locked-down windows, the
// ceremony window pinned to the control plane's origin, notifications once each, deep links that
// only prefill, start at login, roles ended on screen lock, and Quit stopping the agent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { electronUnavailable } from '../../app/start';
import { channelFor, methods } from '../../shared/api';
import { touch } from '../helpers/ceremony';
import { cliWorld, engPolicy } from '../helpers/cli-world';
import { APP_URL, MAIN, call, item, labels, quit, startMain } from '../helpers/electron-main';
import { createStandIn, flatMenu, loadMain, until, type StandIn } from '../helpers/electron-stand-in';
import { ROOT, tmpDir } from '../helpers/repo';

// the agent under test uses the file keystore; start-at-login writes under this HOME
process.env.PIM_KEYSTORE = 'file';
const HOME = tmpDir('pim-electron-home-');
process.env.HOME = HOME;
delete process.env.XDG_CONFIG_HOME;

// prod-admin ends on screen lock; admin's requests wait for a lead
const POLICY = engPolicy({
  admin: ['justification: optional'],
  rolesBefore: `  - name: prod-admin
    eligible: { groups: [eng] }
    activation: { maxDuration: 1h, justification: optional, onLock: deactivate }
`,
});

/** Every window's web preferences: isolated, sandboxed, no Node, web security on. */
function assertLockedDown(s: StandIn): void {
  for (const w of s.windows) {
    const p = w.options.webPreferences as Record<string, unknown>;
    assert.deepEqual(
      [
        p.contextIsolation,
        p.sandbox,
        p.nodeIntegration,
        p.nodeIntegrationInWorker,
        p.nodeIntegrationInSubFrames,
        p.webSecurity,
        p.allowRunningInsecureContent,
        p.webviewTag,
      ],
      [true, true, false, false, false, true, false, false],
    );
  }
}

test('not enrolled: tray, menu, exactly the contract over IPC, locked-down windows, and Quit stops the agent', async () => {
  const s = await startMain(tmpDir('pim-home-'));

  // before ready: the app:// scheme, the sandbox, one instance, the pim-agent:// links
  assert.deepEqual(s.schemes, [{ scheme: 'app', privileges: { standard: true, secure: true } }]);
  assert.ok(s.calls.indexOf('app.enableSandbox') < s.calls.indexOf('app.whenReady'));
  assert.ok(s.calls.includes('app.requestSingleInstanceLock'));
  assert.deepEqual(s.app.protocolClients, ['pim-agent']);

  assert.equal(s.trays.length, 1);
  assert.equal(s.trays[0]!.image.path, path.join(ROOT, 'build', 'icons', 'tray-idle.png'));
  assert.deepEqual(labels(s).slice(0, 2), ['Not signed in — not connected', 'Open PIM Agent to enrol this device']);
  assert.equal(item(s, 'refresh')?.enabled, false);
  assert.equal(item(s, 'start-at-login')?.checked, false, 'start at login is off by default');

  // IPC: one handler per contract method, nothing else
  assert.deepEqual([...s.ipc.keys()].sort(), methods.map(channelFor).sort());
  const state = await call(s, 'getState', {});
  assert.equal(state.ok, true);
  for (const foreign of [
    { senderFrame: { url: 'https://evil.example/' } },
    { senderFrame: { url: 'app://pim/other.html' } },
    { senderFrame: null },
  ]) {
    const r = await call(s, 'getState', {}, foreign);
    assert.equal(r.error?.code, 'forbidden-sender', JSON.stringify(foreign));
  }
  const bad = await call(s, 'activate', { role: 'Not A Role', extra: 1 });
  assert.equal(bad.ok, false);
  assert.equal(bad.error?.code, 'bad-input');
  const badCeremony = await call(s, 'openCeremony', { url: 'https://evil.example/ceremony/x' });
  assert.equal(badCeremony.ok, false, 'only ceremonies of the connected control plane open');
  assert.equal(s.windows.length, 1, 'no window was opened for it');

  // every window: isolated, sandboxed, no Node, web security on; the popover stays on its page
  assertLockedDown(s);
  const popover = s.windows[0]!;
  assert.deepEqual(popover.urls, [APP_URL]);
  assert.equal(
    (popover.options.webPreferences as { preload?: string }).preload,
    path.join(ROOT, 'dist', 'preload.cjs'),
  );
  assert.equal(
    popover.webContents.tryNavigate('will-navigate', 'https://evil.example/'),
    true,
    'navigation away is prevented',
  );
  assert.equal(popover.webContents.tryNavigate('will-navigate', `${APP_URL}#x`), false);
  assert.deepEqual(popover.webContents.windowOpenHandler!({ url: 'https://evil.example/' }), { action: 'deny' });
  // sessions: no permission granted, no download
  for (const [name, ses] of s.sessions) {
    let granted: boolean | null = null;
    (ses.permissionRequest as (wc: unknown, p: string, cb: (ok: boolean) => void) => void)(
      null,
      'media',
      (ok) => (granted = ok),
    );
    assert.equal(granted, false, name);
    assert.equal((ses.permissionCheck as () => boolean)(), false);
    assert.equal(ses.downloadsBlocked, true);
  }
  // the renderer is served from dist/renderer and nothing outside it
  const serve = s.protocolHandlers.get('app')!;
  assert.equal((await serve({ url: 'app://pim/index.html' })).status, 200);
  assert.equal((await serve({ url: 'app://pim/../../package.json' })).status, 404);

  await quit(s);
  const after = await call(s, 'getState', {});
  assert.equal(after.ok, false, 'the agent is stopped: its database is closed');
});

test('a stand-in that does not model an API makes the main process fail loudly', () => {
  const s = createStandIn(ROOT);
  assert.throws(() => (s.electron.app as Record<string, unknown>).relaunch, /app\.relaunch is not modelled/);
  assert.throws(() => s.electron.systemPreferences, /electron\.systemPreferences is not modelled/);
});

test('enrolled: the menu and icon follow activations, the ceremony window is pinned, links only prefill, screen lock ends onLock roles', async () => {
  const { server, people } = await cliWorld(POLICY, [
    ['alice@acme.example', ''],
    ['bob@acme.example', 'eng,leads'],
  ]);
  const alice = people['alice@acme.example']!;
  const bob = people['bob@acme.example']!;
  const s = await startMain(alice.home);
  await until('the verified policy in the menu', () => /^Policy v\d+$/.test(item(s, 'policy')?.label ?? ''));
  assert.equal(labels(s)[0], 'alice@acme.example — online');
  assert.equal(item(s, 'role:readonly')?.label, 'Activate readonly… (max 8h)');
  assert.equal(s.trays[0]!.image.path, path.join(ROOT, 'build', 'icons', 'tray-idle.png'));

  // "Activate readonly…" opens the popover on the prefilled dialog; nothing is requested
  item(s, 'role:readonly')!.click!();
  const popover = s.windows[0]!;
  assert.equal(popover.urls.at(-1), `${APP_URL}#activate=readonly`);
  assert.equal(popover.visible, true);

  // activate as the popover does: the request over IPC, the key touch on the ceremony page
  const req = await call(s, 'activate', { role: 'readonly', duration: 3600 });
  assert.equal(req.ok, true, JSON.stringify(req.error));
  const ceremonyUrl = (req.value as unknown as { ceremonyUrl: string }).ceremonyUrl;
  // the ceremony window: its own session, no preload, pinned to the control plane's origin
  const opened = await call(s, 'openCeremony', { url: ceremonyUrl });
  assert.equal(opened.ok, true, JSON.stringify(opened.error));
  assert.equal(s.windows.length, 2, 'the popover and the ceremony window');
  const ceremony = s.windows[1]!;
  assert.equal(ceremony.urls[0], ceremonyUrl);
  assertLockedDown(s);
  const prefs = ceremony.options.webPreferences as Record<string, unknown>;
  assert.equal(prefs.preload, undefined);
  assert.equal(typeof prefs.partition, 'string');
  assert.equal(ceremony.webContents.tryNavigate('will-navigate', 'https://evil.example/ceremony'), true);
  assert.equal(
    ceremony.webContents.tryNavigate('will-navigate', `${server.match[1]!.replace(/\/$/, '')}/activations/next`),
    false,
    'its own origin stays reachable',
  );
  assert.equal((await touch(alice.key, ceremonyUrl)).value?.state, 'active');
  await until('readonly active in the menu', () => item(s, 'deactivate:readonly'));
  assert.match(item(s, 'active:readonly')!.label!, /^readonly — (\d+ min|1 h) left$/);
  await until('the active icon', () => s.trays[0]!.image.path.endsWith('tray-active.png'));

  // prod-admin (onLock: deactivate) too; then the screen locks
  // five minutes: inside the 10-minute notice at once
  const prod = await call(s, 'activate', { role: 'prod-admin', duration: 300 });
  assert.equal(
    (await touch(alice.key, (prod.value as unknown as { ceremonyUrl: string }).ceremonyUrl)).value?.state,
    'active',
  );
  await until('prod-admin active in the menu', () => item(s, 'deactivate:prod-admin'));
  // the 10-minute notice: once, with Extend in the menu; a click opens the popover on it
  const ending = () => s.notifications.filter((n) => /^prod-admin ends in [3-5] minutes$/.test(n.title));
  await until('the ending notice', () => ending().length === 1);
  assert.match(ending()[0]!.body, /extend/i);
  await until('Extend in the menu', () => item(s, 'extend:prod-admin'));
  ending()[0]!.emit('click');
  assert.equal(popover.urls.at(-1), `${APP_URL}#view=extend&role=prod-admin`);
  // both signals are wired: the screen locking and the machine suspending
  assert.deepEqual([s.powerMonitor.listenerCount('lock-screen'), s.powerMonitor.listenerCount('suspend')], [1, 1]);
  s.powerMonitor.emit('lock-screen');
  await until('prod-admin ended on lock', () => !item(s, 'deactivate:prod-admin'));
  assert.ok(item(s, 'deactivate:readonly'), 'a role without onLock stays active');
  const db = new Database(path.join(alice.home, 'agent.db'), { readonly: true });
  try {
    const rows = db.prepare("SELECT record_json FROM audit WHERE type = 'activation-deactivated'").all() as {
      record_json: string;
    }[];
    const data = rows.map((r) => (JSON.parse(r.record_json) as { data: { role: string; reason?: string } }).data);
    assert.deepEqual(
      data.map((d) => [d.role, d.reason]),
      [['prod-admin', 'session-locked']],
    );
  } finally {
    db.close();
  }

  // Deactivate from the menu
  item(s, 'deactivate:readonly')!.click!();
  await until('readonly no longer active', () => !item(s, 'deactivate:readonly'));
  await until('the idle icon again', () => s.trays[0]!.image.path.endsWith('tray-idle.png'));
  // "ended" notices: one per activation, never repeated by later menu updates
  await until('ended notices', () => s.notifications.filter((n) => /ended|deactivated/.test(n.title)).length === 2);
  assert.equal(ending().length, 1, 'the 10-minute notice fired once');

  // deep links: a valid one opens the prefilled dialog and requests nothing; a malformed one is refused
  const before = ((await call(s, 'getState', {})).value as unknown as { activations: unknown[] }).activations.length;
  s.app.emit('second-instance', {}, ['/opt/pim-agent', 'pim-agent://activate?role=admin&duration=1h']);
  assert.equal(popover.urls.at(-1), `${APP_URL}#activate=admin&duration=3600`);
  s.app.emit('second-instance', {}, ['/opt/pim-agent', 'pim-agent://approve?id=x&decision=approve']);
  assert.match(s.errorBoxes.at(-1)!.content, /unknown parameter "decision"/);
  // macOS hands links over with open-url
  let handled = false;
  s.app.emit('open-url', { preventDefault: () => (handled = true) }, 'pim-agent://approve?id=abc');
  assert.equal(handled, true);
  assert.equal(popover.urls.at(-1), `${APP_URL}#approve=abc`);
  assert.equal(
    ((await call(s, 'getState', {})).value as unknown as { activations: unknown[] }).activations.length,
    before,
    'no link requested anything',
  );

  // start at login: off by default; on writes the XDG autostart entry, off removes it
  const entry = path.join(HOME, '.config', 'autostart', 'pim-agent.desktop');
  item(s, 'start-at-login')!.click!();
  await until('the autostart entry', () => fs.existsSync(entry));
  assert.match(fs.readFileSync(entry, 'utf8'), /^Exec=\S+ .*$/m);
  await until('the checkbox on', () => item(s, 'start-at-login')?.checked === true);
  item(s, 'start-at-login')!.click!();
  await until('the autostart entry removed', () => !fs.existsSync(entry));

  // alice asks for admin (needs bob's approval): the menu lists the request, the icon is pending
  const adm = await call(s, 'activate', { role: 'admin', duration: 3600 });
  assert.equal(
    (await touch(alice.key, (adm.value as unknown as { ceremonyUrl: string }).ceremonyUrl)).value?.state,
    'pending-approval',
  );
  await until('the request in the menu', () => item(s, 'request:admin')?.label === 'admin — waiting for approval');
  await until('the pending icon', () => s.trays[0]!.image.path.endsWith('tray-pending.png'));
  await quit(s);

  // bob, an approver: the count in his menu, one notification however often the menu updates
  const b = await startMain(bob.home);
  await until('the approvals count', () => item(b, 'approvals')?.label === 'Waiting for your approval (1)…');
  assert.ok(b.trays[0]!.image.path.endsWith('tray-pending.png'));
  const asks = () => b.notifications.filter((n) => n.title === 'alice@acme.example asks for admin');
  await until('the approval notification', () => asks().length === 1);
  assert.equal(asks()[0]!.shown, true);
  // later menu updates (a refresh, and another) show it no more
  for (let i = 0; i < 2; i++) {
    const sets = b.trays[0]!.menuSets;
    item(b, 'refresh')!.click!();
    await until('the menu rebuilt after a refresh', () => b.trays[0]!.menuSets > sets);
  }
  assert.equal(asks().length, 1, 'fired once');
  // a click opens the approvals view
  asks()[0]!.emit('click');
  assert.equal(b.windows[0]!.urls.at(-1), `${APP_URL}#view=approvals`);
  item(b, 'approvals')!.click!();
  assert.equal(b.windows[0]!.urls.at(-1), `${APP_URL}#view=approvals`);

  // offline: the control plane goes away; a refresh says so in the menu and the icon
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  item(b, 'refresh')!.click!();
  await until('offline in the menu', () => labels(b)[0] === 'bob@acme.example — offline');
  await until('offline copy line', () => /^Policy v\d+ — offline copy$/.test(item(b, 'policy')?.label ?? '')).catch(
    (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(labels(b))}`);
    },
  );
  await until('the offline icon', () => b.trays[0]!.image.path.endsWith('tray-offline.png'));
  await quit(b);

  // days later, still offline: the verified copy has expired (its expiry moved into the past stands
  // in for the days passing) — the menu says so and offers no role
  const bdb = new Database(path.join(bob.home, 'agent.db'));
  bdb.prepare("UPDATE policy SET expires = '2020-01-01T00:00:00.000Z'").run();
  bdb.close();
  const later = await startMain(bob.home);
  await until('the expired policy line', () =>
    /^Policy v\d+ — expired, no role can be activated$/.test(item(later, 'policy')?.label ?? ''),
  );
  assert.equal(flatMenu(later.trays[0]!.menu).filter((i) => i.id?.startsWith('role:')).length, 0, 'no role is offered');
  assert.ok(
    flatMenu(later.trays[0]!.menu).some((i) => i.id === 'blocked:admin'),
    'roles are listed as not available',
  );
  assert.ok(later.trays[0]!.image.path.endsWith('tray-offline.png'));
  await quit(later);
});

test('under Electron without its ABI build of better-sqlite3: the runtime, the module and the fixing command, no stack trace', async () => {
  // this process plays an Electron 45 whose Electron-ABI build was never prepared
  Object.defineProperty(process.versions, 'electron', { value: '45.4.1', configurable: true });
  try {
    process.env.PIM_HOME = tmpDir('pim-home-');
    const s = createStandIn(ROOT);
    loadMain(MAIN, s);
    await until('the app to give up', () => s.app.exitCode !== null);
    assert.equal(s.app.exitCode, 1);
    assert.equal(s.trays.length, 0);
    assert.equal(s.errorBoxes.length, 1);
    const { title, content } = s.errorBoxes[0]!;
    assert.equal(title, 'PIM Agent could not start');
    assert.match(
      content,
      new RegExp(
        `^PIM Agent cannot load better-sqlite3 \\(the SQLite module for agent\\.db\\) under Electron 45\\.4\\.1 \\(ABI ${process.versions.modules}\\): there is no Electron build at .*native/electron-abi${process.versions.modules}-${process.platform}-${process.arch}/better_sqlite3\\.node\\. Fix: npm run electron:native$`,
      ),
    );
    assert.doesNotMatch(content, /\n|    at /);
  } finally {
    delete (process.versions as Record<string, string | undefined>).electron;
  }
});

test('a second start hands over to the running instance and quits', async () => {
  process.env.PIM_HOME = tmpDir('pim-home-');
  const s = createStandIn(ROOT, { singleInstance: false });
  loadMain(MAIN, s);
  await until('the second instance to quit', () => s.app.quitCount === 1);
  assert.equal(s.trays.length, 0);
  assert.equal(s.ipc.size, 0);
});

test('npm start without Electron: the native step says so in one line and succeeds', (t) => {
  // (a display is assumed: only whether the binary exists matters here)
  if (electronUnavailable({ DISPLAY: ':0' }) === null) {
    t.skip("Electron's binary is installed here: the step builds instead");
    return;
  }
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'electron-native.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    "electron-native: Electron's binary is not installed; nothing to prepare (the CLI and the web shell use Node's build)\n",
  );
});
