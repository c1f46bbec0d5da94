// The BUILT Electron main process (dist/electron-main.cjs) run under a recording, strict stand-in of
// Electron's main-process API (test/helpers/electron-stand-in.ts) against real agent homes (file
// keystore) and a real control plane: tray and icon per state, the menu as the state changes, IPC
// (exactly the contract, foreign senders and malformed input refused), locked-down windows, the
// ceremony window pinned to the control plane's origin, notifications once each, deep links that
// only prefill, start at login, roles ended on screen lock, and Quit stopping the agent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { METHOD_NAMES } from '../../shared/api-methods';
import { touch } from '../helpers/ceremony';
import { cliWorld } from '../helpers/cli-world';
import { createStandIn, flatMenu, loadMain, until, type StandIn } from '../helpers/electron-stand-in';
import { ROOT, tmpDir } from '../helpers/repo';

const MAIN = path.join(ROOT, 'dist', 'electron-main.cjs');
const APP_URL = 'app://pim/index.html';
const TRUSTED = { senderFrame: { url: APP_URL } };

// the agent under test uses the file keystore; start-at-login writes under this HOME
process.env.PIM_KEYSTORE = 'file';
const HOME = tmpDir('pim-electron-home-');
process.env.HOME = HOME;
delete process.env.XDG_CONFIG_HOME;

const POLICY = `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional }
  - name: prod-admin
    eligible: { groups: [eng] }
    activation: { maxDuration: 1h, justification: optional, onLock: deactivate }
  - name: admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      justification: optional
      approval: { approvers: { groups: [leads] }, count: 1 }
users:
  - { email: alice@acme.example, groups: [eng] }
`;

/** Starts the built main process for the agent home `home`; resolves once the tray has its menu. */
async function startMain(home: string): Promise<StandIn> {
  process.env.PIM_HOME = home;
  const s = createStandIn(ROOT);
  loadMain(MAIN, s);
  await until('the tray and its first menu', () => s.trays[0]?.menu);
  return s;
}

function labels(s: StandIn): string[] {
  return flatMenu(s.trays[0]!.menu).map((i) => i.label ?? `(${i.type})`);
}

function item(s: StandIn, id: string) {
  return flatMenu(s.trays[0]!.menu).find((i) => i.id === id);
}

async function call(s: StandIn, method: string, input: unknown, event: unknown = TRUSTED) {
  const h = s.ipc.get(`pim:${method}`);
  assert.ok(h, `a handler for ${method}`);
  return (await h(event, input)) as { ok: boolean; value?: never; error?: { code: string; message: string } };
}

/** Quit from the tray menu; resolves when the agent has stopped and the app quit. */
async function quit(s: StandIn): Promise<void> {
  item(s, 'quit')!.click!();
  await until('the app to quit after stopping the agent', () => s.app.quitCount === 1);
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
  assert.deepEqual([...s.ipc.keys()].sort(), METHOD_NAMES.map((m) => `pim:${m}`).sort());
  const state = await call(s, 'getState', {});
  assert.equal(state.ok, true);
  for (const foreign of [{ senderFrame: { url: 'https://evil.example/' } }, { senderFrame: { url: 'app://pim/other.html' } }, { senderFrame: null }]) {
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
  for (const w of s.windows) {
    const p = w.options.webPreferences as Record<string, unknown>;
    assert.deepEqual(
      [p.contextIsolation, p.sandbox, p.nodeIntegration, p.nodeIntegrationInWorker, p.nodeIntegrationInSubFrames, p.webSecurity, p.allowRunningInsecureContent, p.webviewTag],
      [true, true, false, false, false, true, false, false],
    );
  }
  const popover = s.windows[0]!;
  assert.deepEqual(popover.urls, [APP_URL]);
  assert.equal((popover.options.webPreferences as { preload?: string }).preload, path.join(ROOT, 'dist', 'preload.cjs'));
  assert.equal(popover.webContents.tryNavigate('will-navigate', 'https://evil.example/'), true, 'navigation away is prevented');
  assert.equal(popover.webContents.tryNavigate('will-navigate', `${APP_URL}#x`), false);
  assert.deepEqual(popover.webContents.windowOpenHandler!({ url: 'https://evil.example/' }), { action: 'deny' });
  // sessions: no permission granted, no download
  for (const [name, ses] of s.sessions) {
    let granted: boolean | null = null;
    (ses.permissionRequest as (wc: unknown, p: string, cb: (ok: boolean) => void) => void)(null, 'media', (ok) => (granted = ok));
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
