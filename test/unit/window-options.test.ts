import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  CEREMONY_PARTITION,
  ceremonyWindowOptions,
  isAllowedCeremonyNavigation,
  isAllowedNavigation,
  popoverPosition,
  popoverWindowOptions,
  resolveAppAsset,
  resolveCeremonyOpen,
} from '../../electron/main/window-options';
import { APP_URL } from '../../electron/main/urls';

const opts = popoverWindowOptions('/opt/pim/dist/preload.cjs');
const prefs = opts.webPreferences as unknown as Record<string, unknown>;

test('the popover renderer is isolated and sandboxed with Node kept out of it everywhere', () => {
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.nodeIntegrationInWorker, false);
  assert.equal(prefs.nodeIntegrationInSubFrames, false);
});

test('web security stays on: no insecure content, no webview tag, no experimental features, no plugins', () => {
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.allowRunningInsecureContent, false);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.experimentalFeatures, false);
  assert.equal(prefs.plugins, false);
  assert.equal(prefs.navigateOnDragDrop, false, 'dropping a file must not navigate the window');
  assert.equal(prefs.spellcheck, false, 'role names and tickets are not sent to a spellchecker');
});

test('nothing loosens the defaults behind our back: no blink features enabled, no extra preferences', () => {
  assert.equal(prefs.enableBlinkFeatures, undefined);
  assert.equal(prefs.additionalArguments, undefined);
  assert.deepEqual(Object.keys(prefs).sort(), [
    'allowRunningInsecureContent',
    'contextIsolation',
    'experimentalFeatures',
    'navigateOnDragDrop',
    'nodeIntegration',
    'nodeIntegrationInSubFrames',
    'nodeIntegrationInWorker',
    'plugins',
    'preload',
    'safeDialogs',
    'sandbox',
    'spellcheck',
    'webSecurity',
    'webviewTag',
  ]);
});

test('the preload script is the path it was given', () => {
  assert.equal(prefs.preload, '/opt/pim/dist/preload.cjs');
});

test('the popover is a hidden, frameless, fixed-size 400x560 window outside the taskbar', () => {
  assert.equal(opts.width, 400);
  assert.equal(opts.height, 560);
  assert.equal(opts.show, false);
  assert.equal(opts.frame, false);
  assert.equal(opts.resizable, false);
  assert.equal(opts.skipTaskbar, true);
});

test('navigation to the app page itself is allowed, whatever its query or fragment', () => {
  assert.equal(isAllowedNavigation(APP_URL, APP_URL), true);
  assert.equal(isAllowedNavigation(`${APP_URL}#roles`, APP_URL), true);
  assert.equal(isAllowedNavigation(`${APP_URL}?tab=audit`, APP_URL), true);
});

test('navigation anywhere else is refused: the web, other files, other app paths, look-alike hosts', () => {
  for (const url of [
    'https://evil.example/',
    'http://localhost:8080/index.html',
    'file:///etc/passwd',
    'file:///opt/pim/dist/renderer/index.html',
    'app://pim/other.html',
    'app://pim.evil/index.html',
    'app://user:pw@pim/index.html',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'about:blank',
    'not a url',
    '',
  ]) {
    assert.equal(isAllowedNavigation(url, APP_URL), false, url);
  }
});

test('with a file:// renderer only that exact file may be loaded', () => {
  const appUrl = 'file:///opt/pim/dist/renderer/index.html';
  assert.equal(isAllowedNavigation('file:///opt/pim/dist/renderer/index.html#x', appUrl), true);
  assert.equal(
    isAllowedNavigation('file:///opt/pim/dist/renderer/../renderer/index.html', appUrl),
    true,
    'dot segments are resolved first',
  );
  assert.equal(isAllowedNavigation('file:///opt/pim/dist/renderer/app.js', appUrl), false);
  assert.equal(isAllowedNavigation('file:///home/alice/index.html', appUrl), false);
});

test('the popover opens under a tray icon at the top of the screen, inside the work area', () => {
  const workArea = { x: 0, y: 25, width: 1440, height: 875 };
  const pos = popoverPosition({ x: 1200, y: 0, width: 24, height: 24 }, { width: 400, height: 560 }, workArea);
  assert.deepEqual(pos, { x: 1200 + 12 - 200, y: 25 + 8 }, 'centred on the icon, just below the menu bar');
});

test('the popover opens above a tray icon in a bottom taskbar and never leaves the screen on the right', () => {
  const workArea = { x: 0, y: 0, width: 1920, height: 1040 };
  const pos = popoverPosition({ x: 1900, y: 1045, width: 20, height: 30 }, { width: 400, height: 560 }, workArea);
  assert.deepEqual(pos, { x: 1920 - 400 - 8, y: 1040 - 560 - 8 }, 'kept a margin inside the work area');
});

test('the popover opens beside a tray icon in a left-hand taskbar', () => {
  const workArea = { x: 60, y: 0, width: 1860, height: 1080 };
  const pos = popoverPosition({ x: 18, y: 1000, width: 24, height: 24 }, { width: 400, height: 560 }, workArea);
  assert.equal(pos.x, 60 + 8, 'just right of the taskbar');
  assert.equal(pos.y, 1080 - 560 - 8, 'as close to the icon as the screen allows');
});

test('without tray bounds (Linux AppIndicator) the popover goes to the top-right corner', () => {
  const pos = popoverPosition(null, { width: 400, height: 560 }, { x: 0, y: 32, width: 1920, height: 1048 });
  assert.deepEqual(pos, { x: 1512, y: 40 });
  assert.deepEqual(
    popoverPosition(
      { x: 0, y: 0, width: 0, height: 0 },
      { width: 400, height: 560 },
      { x: 0, y: 32, width: 1920, height: 1048 },
    ),
    pos,
  );
});

test('app:// requests map to files inside the renderer folder and nothing outside it', () => {
  const root = '/opt/pim/dist/renderer';
  assert.equal(resolveAppAsset('app://pim/index.html', root), '/opt/pim/dist/renderer/index.html');
  assert.equal(resolveAppAsset('app://pim/', root), '/opt/pim/dist/renderer/index.html');
  assert.equal(resolveAppAsset('app://pim/app.js?v=1', root), '/opt/pim/dist/renderer/app.js');
  assert.equal(
    resolveAppAsset('app://pim/../../../etc/passwd', root),
    '/opt/pim/dist/renderer/etc/passwd',
    'dot segments cannot climb above the root',
  );
  assert.equal(
    resolveAppAsset('app://pim/%2e%2e/secret', root),
    '/opt/pim/dist/renderer/secret',
    'nor can encoded ones',
  );
  for (const url of [
    'app://pim/a%2f..%2f..%2fsecret',
    'app://pim/a%5c..%5csecret',
    'app://pim/x%00.js',
    'app://pim//etc/passwd',
    'app://other/index.html',
    'file:///etc/passwd',
    'app://pim/%E0%A4%A',
  ]) {
    assert.equal(resolveAppAsset(url, root), null, url);
  }
});

// --- the ceremony window (docs/architecture.md, Decisions: WebAuthn origin): the control plane's page, locked down ---

const ceremony = ceremonyWindowOptions();
const cprefs = ceremony.webPreferences as unknown as Record<string, unknown>;

test('the ceremony window has no preload, is sandboxed and isolated, and keeps web security on', () => {
  assert.equal('preload' in cprefs, false, 'a page of another origin gets no window.pim');
  assert.equal(cprefs.sandbox, true);
  assert.equal(cprefs.contextIsolation, true);
  assert.equal(cprefs.nodeIntegration, false);
  assert.equal(cprefs.nodeIntegrationInWorker, false);
  assert.equal(cprefs.nodeIntegrationInSubFrames, false);
  assert.equal(cprefs.webSecurity, true);
  assert.equal(cprefs.allowRunningInsecureContent, false);
  assert.equal(cprefs.webviewTag, false);
  assert.equal(cprefs.experimentalFeatures, false);
  assert.equal(cprefs.plugins, false);
  assert.equal(cprefs.navigateOnDragDrop, false);
});

test('the ceremony window lives in a session of its own, in memory only, and loosens nothing else', () => {
  assert.equal(cprefs.partition, CEREMONY_PARTITION);
  assert.doesNotMatch(String(cprefs.partition), /^persist:/, 'no cookies or storage on disk');
  assert.notEqual(cprefs.partition, undefined);
  assert.deepEqual(Object.keys(cprefs).sort(), [
    'allowRunningInsecureContent',
    'contextIsolation',
    'experimentalFeatures',
    'navigateOnDragDrop',
    'nodeIntegration',
    'nodeIntegrationInSubFrames',
    'nodeIntegrationInWorker',
    'partition',
    'plugins',
    'safeDialogs',
    'sandbox',
    'spellcheck',
    'webSecurity',
    'webviewTag',
  ]);
  assert.equal(ceremony.show, true);
  assert.ok(ceremony.width >= 360 && ceremony.height >= 420, 'room for the summary and the button');
});

test('a ceremony window may navigate within the control plane origin only: same scheme, host and port', () => {
  const cp = 'https://pim.acme.example';
  for (const url of [
    'https://pim.acme.example/ceremony/activation/abc',
    'https://pim.acme.example:443/ceremony/enrol/x',
    'https://pim.acme.example/anything?x=1#y',
  ]) {
    assert.equal(isAllowedCeremonyNavigation(url, cp), true, url);
  }
  for (const url of [
    'http://pim.acme.example/ceremony/activation/abc',
    'https://pim.acme.example:8443/ceremony/activation/abc',
    'https://evil.example/ceremony/activation/abc',
    'https://pim.acme.example.evil.example/',
    'https://user:pw@pim.acme.example/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:text/html,x',
    'app://pim/index.html',
    'about:blank',
    'not a url',
    '',
  ]) {
    assert.equal(isAllowedCeremonyNavigation(url, cp), false, url);
  }
  assert.equal(isAllowedCeremonyNavigation('http://localhost:7443/ceremony/enrol/a', 'http://localhost:7443'), true);
  assert.equal(
    isAllowedCeremonyNavigation('http://127.0.0.1:7443/ceremony/enrol/a', 'http://localhost:7443'),
    false,
    'another host name is another origin',
  );
  assert.equal(isAllowedCeremonyNavigation('https://pim.acme.example/', 'not a url'), false);
});

test('openCeremony opens only ceremony pages of the connected control plane, in the window or the system browser', () => {
  const server = 'https://pim.acme.example';
  const url = `${server}/ceremony/activation/abcDEF_-1`;
  assert.deepEqual(resolveCeremonyOpen({ url }, server), { ok: true, url, external: false });
  assert.deepEqual(resolveCeremonyOpen({ url, external: true }, server), { ok: true, url, external: true });
  const approval = `${server}/ceremony/approval/${'a'.repeat(64)}`;
  assert.equal(resolveCeremonyOpen({ url: approval }, server).ok, true);
  const refused = (input: unknown, srv: string | null = server) => {
    const r = resolveCeremonyOpen(input, srv);
    return r.ok ? null : r.code;
  };
  assert.equal(refused({ url: 'https://evil.example/ceremony/activation/abc' }), 'bad-ceremony-url');
  assert.equal(refused({ url: `${server}/trust-root.json` }), 'bad-ceremony-url', 'another page of the right origin');
  assert.equal(refused({ url: `${server}/ceremony/activation/abc?next=https://evil.example` }), 'bad-ceremony-url');
  assert.equal(refused({ url: `${server}/ceremony/approval/not-a-nonce` }), 'bad-ceremony-url');
  assert.equal(
    refused({ url: 'file:///etc/passwd', external: true }),
    'bad-ceremony-url',
    'never a file for the system browser',
  );
  assert.equal(refused({ url: 'javascript:alert(1)', external: true }), 'bad-ceremony-url');
  assert.equal(refused({ url }, null), 'not-connected');
  assert.equal(refused({ url, extra: 1 }), 'bad-input');
  assert.equal(refused({ url: 5 }), 'bad-input');
  assert.equal(refused('text'), 'bad-input');
});
