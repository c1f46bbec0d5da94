// Electron bootstrap: tray, popover window, IPC. Deliberately thin — every decision (menu content,
// window options, navigation and sender checks, popover placement, asset paths) is a pure function
// in this folder with its own unit tests; this file only wires them to Electron.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BrowserWindow,
  Menu,
  Notification,
  Tray,
  app,
  dialog,
  ipcMain,
  nativeImage,
  net,
  powerMonitor,
  protocol,
  screen,
  session,
  shell,
} from 'electron';
import type { MenuItemConstructorOptions } from 'electron';
import {
  channelFor,
  methods,
  type ActivationView,
  type AgentState,
  type AuditView,
  type Reply,
} from '../../shared/api';
import { startAgent } from '../../agent/agent-runtime';
import { errorMessage } from '../../shared/errors';
import { DEEP_LINK_SCHEME, deepLinkFragment, deepLinkInArgv, parseDeepLink } from './deep-links';
import { desktopNoticesToShow, noticeFragment, type DesktopNotice } from '../../shared/desktop-notices';
import { createIpcRouter, isTrustedSender } from './ipc-router';
import { SESSION_LOCKED_REASON, rolesToEndOnLock } from './session-lock';
import { readSettings, setStartAtLogin } from './start-at-login';
import {
  activateTarget,
  buildTrayMenu,
  deactivateTarget,
  menuAction,
  trayIconState,
  type MenuItemTemplate,
  type TrayIconState,
} from './tray-menu';
import { APP_SCHEME, APP_URL } from './urls';
import {
  CEREMONY_PARTITION,
  ceremonyWindowOptions,
  isAllowedCeremonyNavigation,
  isAllowedNavigation,
  popoverPosition,
  popoverWindowOptions,
  resolveAppAsset,
  resolveCeremonyOpen,
} from './window-options';

type Agent = Awaited<ReturnType<typeof startAgent>>;

const appRoot = app.getAppPath();
const RENDERER_DIR = path.join(appRoot, 'dist', 'renderer');
const PRELOAD_PATH = path.join(appRoot, 'dist', 'preload.cjs');
/** build/icons/tray-<state>.png (generated from one SVG by the icons script) */
const trayIconPath = (state: TrayIconState) => path.join(appRoot, 'build', 'icons', `tray-${state}.png`);
/** the menu's "N min left" moves on its own: rebuilt once a minute (and on every change) */
const MENU_REFRESH_MS = 60_000;

// Must happen before `ready`: the renderer is served from app://pim/, a standard secure origin,
// instead of file:// (which would share one origin with every local file).
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true } }]);
app.enableSandbox();

let agent: Agent | null = null;
let tray: Tray | null = null;
let popover: BrowserWindow | null = null;
let agentStopped = false;
let stopping = false;
let ceremonyWindow: BrowserWindow | null = null;
let iconState: TrayIconState | null = null;
let approvalsWaiting: number | null = null;
/** since when the audit sync keeps failing (null: it works) */
let auditFailingSince: string | null = null;
/** webContents id → the control plane origin that ceremony window is pinned to */
const ceremonyOrigins = new Map<number, string>();

function toElectronMenu(items: MenuItemTemplate[], onClick: (id: string) => void): MenuItemConstructorOptions[] {
  return items.map((it): MenuItemConstructorOptions => {
    if (it.type === 'separator') return { type: 'separator' };
    const base: MenuItemConstructorOptions = { label: it.label, enabled: it.enabled };
    if (it.id !== undefined) base.id = it.id;
    if (it.type === 'submenu') return { ...base, submenu: toElectronMenu(it.submenu ?? [], onClick) };
    if (it.type === 'checkbox')
      return { ...base, type: 'checkbox', checked: it.checked === true, click: () => onClick(it.id ?? '') };
    const id = it.id;
    return id !== undefined && menuAction(id)
      ? { ...base, type: 'normal', click: () => onClick(id) }
      : { ...base, type: 'normal' };
  });
}

function onMenuClick(id: string): void {
  switch (menuAction(id)) {
    case 'quit':
      app.quit();
      return;
    case 'refresh':
      void agent?.dispatch('refreshPolicy', {}).finally(() => void updateTrayMenu());
      return;
    case 'open':
      showPopover();
      return;
    case 'activate': {
      // the dialog opens prefilled; nothing is requested before the user submits and touches the key
      const role = activateTarget(id);
      showPopover(role ? deepLinkFragment({ kind: 'activate', role, duration: null }) : undefined);
      return;
    }
    case 'approvals':
      showPopover('#view=approvals');
      return;
    case 'start-at-login':
      setStartAtLogin(!readSettings().startAtLogin);
      void updateTrayMenu();
      return;
    case 'deactivate': {
      const role = deactivateTarget(id);
      if (role) {
        void agent
          ?.dispatch('deactivate', { role })
          .then((r) => {
            if (!r.ok) dialog.showErrorBox(`Could not deactivate ${role}`, r.error.message);
          })
          .finally(() => void updateTrayMenu());
      }
      return;
    }
    default:
      return;
  }
}

let seenNotices: ReadonlySet<string> | null = null;
/** shown notifications, kept referenced until closed (else their click handler may be collected) */
const shownNotifications = new Set<Notification>();

/** Each notice once (desktop-notices.ts decides); a click opens the view it is about. */
function notify(state: AgentState | null): void {
  const prime = seenNotices === null;
  const { show, seen } = desktopNoticesToShow(
    { state, approvals: pendingApprovals, auditFailingSince },
    seenNotices ?? new Set(),
    { prime },
  );
  if (state) seenNotices = seen;
  if (show.length === 0 || !Notification.isSupported()) return;
  for (const n of show) showNotice(n);
}

function showNotice(n: DesktopNotice): void {
  const note = new Notification({ title: n.title, body: n.body });
  shownNotifications.add(note);
  note.on('click', () => {
    shownNotifications.delete(note);
    showPopover(noticeFragment(n));
  });
  note.on('close', () => shownNotifications.delete(note));
  note.show();
}

/** the requests waiting for this user's approval, as last asked */
let pendingApprovals: ActivationView[] = [];
async function fetchApprovals(a: Agent, state: AgentState): Promise<ActivationView[]> {
  if (!state.enrolled) return [];
  const r = await a.dispatch('approvals', {});
  if (!r.ok) throw new Error(r.error.message);
  return Array.isArray(r.value) ? (r.value as ActivationView[]) : [];
}

/** since when the journal's sync keeps failing (the agent keeps it across restarts) */
async function fetchAuditFailingSince(a: Agent): Promise<string | null> {
  const r = await a.dispatch('auditView', { limit: 1 });
  if (!r.ok) throw new Error(r.error.message);
  return (r.value as AuditView).sync.failingSince;
}

let trayMenu: Menu | null = null;
let menuUpdate: Promise<void> | null = null;
let menuDirty = false;
async function updateTrayMenu(): Promise<void> {
  // coalesce bursts of onChange into at most one pending rebuild
  if (menuUpdate) {
    menuDirty = true;
    return menuUpdate;
  }
  menuUpdate = (async () => {
    do {
      menuDirty = false;
      // quitting: the agent's database is being closed; a late change (a refresh or a poll that
      // was in flight) has nothing left to show
      if (stopping) break;
      let state: AgentState | null = null;
      try {
        state = agent ? await agent.getState() : null;
        if (agent && state) {
          auditFailingSince = await fetchAuditFailingSince(agent).catch(() => auditFailingSince);
          // an approver's queue: a control plane that cannot answer leaves the last count
          const approvals = await fetchApprovals(agent, state).catch(() => pendingApprovals);
          pendingApprovals = approvals;
          approvalsWaiting = approvals.filter((x) => x.state === 'pending-approval').length;
        }
      } catch (e) {
        console.error('pim: could not read agent state for the tray menu:', e);
      }
      notify(state);
      if (tray && !tray.isDestroyed()) {
        const extras = { approvalsWaiting, startAtLogin: readSettings().startAtLogin };
        const icon = trayIconState(state, extras);
        if (icon !== iconState) {
          iconState = icon;
          tray.setImage(trayImage(icon));
        }
        trayMenu = Menu.buildFromTemplate(toElectronMenu(buildTrayMenu(state, extras), onMenuClick));
        // macOS shows a context menu on left click when one is set; there the left click opens the
        // popover and the right click pops the menu up instead.
        if (process.platform !== 'darwin') tray.setContextMenu(trayMenu);
        tray.setToolTip(state?.user ? `PIM Agent — ${state.user.email} (${state.connection})` : 'PIM Agent');
      }
    } while (menuDirty);
  })().finally(() => {
    menuUpdate = null;
  });
  return menuUpdate;
}

function createPopover(): BrowserWindow {
  const win = new BrowserWindow(popoverWindowOptions(PRELOAD_PATH));
  win.on('blur', () => {
    if (!win.webContents.isDevToolsOpened()) win.hide();
  });
  win.on('closed', () => {
    if (popover === win) popover = null;
  });
  void win.loadURL(APP_URL);
  return win;
}

/** Shows the popover; `fragment` (#activate=…, #approve=…, #view=…) opens a view or a prefilled dialog. */
function showPopover(fragment?: string): void {
  if (!popover || popover.isDestroyed()) popover = createPopover();
  const win = popover;
  if (fragment) void win.loadURL(APP_URL + fragment);
  const trayBounds = tray && !tray.isDestroyed() ? tray.getBounds() : null;
  const anchor =
    trayBounds && trayBounds.width > 0 ? { x: trayBounds.x, y: trayBounds.y } : screen.getCursorScreenPoint();
  const { workArea } = screen.getDisplayNearestPoint(anchor);
  const [width = 400, height = 560] = win.getSize();
  win.setPosition(...toTuple(popoverPosition(trayBounds, { width, height }, workArea)));
  win.show();
  win.focus();
}

function toTuple(p: { x: number; y: number }): [number, number] {
  return [p.x, p.y];
}

function togglePopover(): void {
  if (popover && !popover.isDestroyed() && popover.isVisible()) popover.hide();
  else showPopover();
}

function lockDownWebContents(): void {
  app.on('web-contents-created', (_event, contents) => {
    // the popover stays on its own page; a ceremony window on its control plane's origin
    const allowed = (url: string) => {
      const origin = ceremonyOrigins.get(contents.id);
      return origin !== undefined ? isAllowedCeremonyNavigation(url, origin) : isAllowedNavigation(url, APP_URL);
    };
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (event, url) => {
      if (!allowed(url)) event.preventDefault();
    });
    contents.on('will-redirect', (event, url) => {
      if (!allowed(url)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}

function lockDownSession(): void {
  // the app's session and the ceremony windows' own one: no permission is ever granted (WebAuthn
  // does not go through the permission handler), nothing is downloaded
  for (const ses of [session.defaultSession, session.fromPartition(CEREMONY_PARTITION)]) {
    ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
    ses.setPermissionCheckHandler(() => false);
    ses.setDevicePermissionHandler(() => false);
    ses.on('will-download', (event) => event.preventDefault());
  }
}

/** Opens (or reuses) the locked-down ceremony window on `url`, pinned to `origin`. */
function openCeremonyWindow(url: string, origin: string): void {
  if (!ceremonyWindow || ceremonyWindow.isDestroyed()) {
    const win = new BrowserWindow(ceremonyWindowOptions());
    const id = win.webContents.id;
    ceremonyOrigins.set(id, origin);
    win.setMenuBarVisibility(false);
    win.on('closed', () => {
      ceremonyOrigins.delete(id);
      if (ceremonyWindow === win) ceremonyWindow = null;
    });
    ceremonyWindow = win;
  } else {
    ceremonyOrigins.set(ceremonyWindow.webContents.id, origin);
  }
  void ceremonyWindow.loadURL(url);
  ceremonyWindow.show();
  ceremonyWindow.focus();
}

/** The popover's `openCeremony` call: only ceremony pages of the connected (or enrolling) control
 *  plane, in the ceremony window or — `external` — the system browser. */
async function handleOpenCeremony(a: Agent, input: unknown): Promise<Reply<unknown>> {
  const state = await a.getState();
  const server = state.server ?? state.enrolment?.server ?? null;
  const r = resolveCeremonyOpen(input, server);
  if (!r.ok) return { ok: false, error: { code: r.code, message: r.message } };
  if (r.external) {
    try {
      await shell.openExternal(r.url);
    } catch (e) {
      return {
        ok: false,
        error: {
          code: 'open-failed',
          message: `could not open the system browser (${errorMessage(e)})`,
        },
      };
    }
  } else {
    openCeremonyWindow(r.url, new URL(r.url).origin);
  }
  return { ok: true, value: { opened: true } };
}

function trayImage(state: TrayIconState) {
  const icon = nativeImage.createFromPath(trayIconPath(state));
  // macOS draws template images in the menu bar's colour
  if (process.platform === 'darwin') icon.setTemplateImage(true);
  return icon;
}

/** A pim-agent:// link opens the prefilled dialog; a link never activates or approves by itself. */
function handleDeepLink(url: string): void {
  const r = parseDeepLink(url);
  if (!r.ok) {
    dialog.showErrorBox('PIM Agent ignored a link', r.reason);
    return;
  }
  showPopover(deepLinkFragment(r.link));
}

/** Screen locked or machine suspending: roles whose policy says `onLock: deactivate` end now —
 *  decided and torn down from agent.db first (the control plane is often out of reach at suspend),
 *  then the control plane is told, retried by the tracker until it answers. */
async function endRolesOnLock(a: Agent): Promise<void> {
  const state = await a.getState();
  const roles = rolesToEndOnLock(state.activations, (r) => a.agent.role(r)?.activation.onLock);
  if (roles.length === 0) return;
  try {
    await a.tracker.svc.endLocally(roles, SESSION_LOCKED_REASON);
  } catch (e) {
    console.error(`pim: could not end ${roles.join(', ')} on lock:`, e instanceof Error ? e.message : e);
  }
  // the credential scheduler removes what was injected for them; the tracker tells the server
  a.credentials.kick();
  a.tracker.kick();
}

function serveRenderer(): void {
  const root = path.resolve(RENDERER_DIR);
  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppAsset(request.url, root, path.sep);
    // belt and braces: the resolved path must stay inside the renderer folder
    if (!file || !path.resolve(file).startsWith(root + path.sep)) return new Response('not found', { status: 404 });
    return net.fetch(pathToFileURL(file).toString());
  });
}

function registerIpc(a: Agent): void {
  const router = createIpcRouter({
    // windows are Electron's business: openCeremony is answered here, everything else by the agent
    dispatch: (method, input) => (method === 'openCeremony' ? handleOpenCeremony(a, input) : a.dispatch(method, input)),
    isTrustedSender: (url) => isTrustedSender(url, APP_URL),
  });
  for (const method of methods) {
    const channel = channelFor(method);
    ipcMain.handle(channel, (event, input: unknown) =>
      router.handle(channel, { senderFrame: event.senderFrame }, input),
    );
  }
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  // a link opened while running: macOS sends open-url, Windows and Linux start a second instance
  app.on('second-instance', (_event, argv) => {
    const link = deepLinkInArgv(argv);
    if (link) handleDeepLink(link);
    else showPopover();
  });
  app.on('open-url', (event, url) => {
    event.preventDefault();
    if (app.isReady() && agent) handleDeepLink(url);
    else startupLink = url;
  });
  app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME);
  // A tray app: closing the popover (or every window) keeps it running until "Quit".
  app.on('window-all-closed', () => {});
  app.on('will-quit', (event) => {
    if (agentStopped || !agent) return;
    event.preventDefault();
    if (stopping) return;
    stopping = true;
    void agent
      .stop()
      .catch((e: unknown) => console.error('pim: agent did not stop cleanly:', e))
      .finally(() => {
        agentStopped = true;
        app.quit();
      });
  });
  lockDownWebContents();

  await app.whenReady();
  lockDownSession();
  serveRenderer();
  app.dock?.hide();

  try {
    agent = await startAgent({});
  } catch (e) {
    dialog.showErrorBox('PIM Agent could not start', errorMessage(e));
    app.exit(1);
    return;
  }
  registerIpc(agent);
  const a = agent;
  // SESSION_LOCK_EVENTS: the screen locks, the machine suspends
  powerMonitor.on('lock-screen', () => void endRolesOnLock(a));
  powerMonitor.on('suspend', () => void endRolesOnLock(a));

  // the popover exists before the tray can be clicked (else a click during the first menu build
  // would make a second one)
  popover = createPopover();
  iconState = 'idle';
  tray = new Tray(trayImage(iconState));
  tray.setToolTip('PIM Agent');
  tray.on('click', togglePopover);
  tray.on('right-click', () => {
    if (process.platform === 'darwin' && trayMenu) tray?.popUpContextMenu(trayMenu);
  });
  agent.onChange(() => void updateTrayMenu());
  await updateTrayMenu();
  // "N min left" on active roles moves on its own, and the T-10 / T-2 notices come due
  setInterval(() => void updateTrayMenu(), MENU_REFRESH_MS).unref();
  const link = startupLink ?? deepLinkInArgv(process.argv);
  if (link) handleDeepLink(link);
}

/** a link the app was started with on macOS (open-url before the agent was up) */
let startupLink: string | null = null;

void main();
