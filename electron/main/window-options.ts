// What the popover window is and may do. Pure, so every security-relevant setting is unit-tested;
// main.ts passes the result straight to `new BrowserWindow()` (its type checks the fields there).
import { contract } from '../../shared/api';
import { httpOrigin, isCeremonyUrl } from '../../shared/ceremony-url';
import { APP_HOST, APP_SCHEME, isSameDocument } from './urls';

export interface SecureWebPreferences {
  preload?: string;
  /** a session of its own (ceremony windows): no cookies, storage or permissions shared with the app */
  partition?: string;
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInWorker: false;
  nodeIntegrationInSubFrames: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  webviewTag: false;
  spellcheck: false;
  experimentalFeatures: false;
  navigateOnDragDrop: false;
  safeDialogs: true;
  plugins: false;
}

/** Every window's web preferences: isolated, sandboxed, no Node, web security on. */
const LOCKED_DOWN = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
  experimentalFeatures: false,
  navigateOnDragDrop: false,
  safeDialogs: true,
  plugins: false,
} as const;

/** A structural subset of Electron's BrowserWindowConstructorOptions. */
export interface PopoverWindowOptions {
  width: number;
  height: number;
  show: false;
  frame: false;
  resizable: false;
  movable: boolean;
  minimizable: false;
  maximizable: false;
  fullscreenable: false;
  skipTaskbar: true;
  alwaysOnTop: true;
  title: string;
  webPreferences: SecureWebPreferences;
}

export const POPOVER_WIDTH = 400;
export const POPOVER_HEIGHT = 560;

export function popoverWindowOptions(preloadPath: string): PopoverWindowOptions {
  return {
    width: POPOVER_WIDTH,
    height: POPOVER_HEIGHT,
    show: false,
    frame: false,
    resizable: false,
    movable: false,
    minimizable: false,
    maximizable: false,
    fullscreenable: false,
    skipTaskbar: true,
    alwaysOnTop: true,
    title: 'PIM Agent',
    webPreferences: { preload: preloadPath, ...LOCKED_DOWN },
  };
}

/** The in-memory session ceremony windows use (no `persist:` prefix: nothing reaches the disk). */
export const CEREMONY_PARTITION = 'pim-ceremony';

/** A structural subset of BrowserWindowConstructorOptions for the ceremony window. */
export interface CeremonyWindowOptions {
  width: number;
  height: number;
  minWidth: number;
  minHeight: number;
  show: true;
  title: string;
  autoHideMenuBar: true;
  webPreferences: Omit<SecureWebPreferences, 'preload'> & { partition: string };
}

/**
 * The window the control plane's ceremony page (docs/architecture.md, Decisions: WebAuthn origin) opens in: a web page
 * of another origin, so no preload (no `window.pim`), sandboxed and isolated, web security on, and a session of its
 * own. main.ts pins its navigation to the control plane's origin and denies it new windows and permission requests
 * (WebAuthn needs none).
 */
export function ceremonyWindowOptions(): CeremonyWindowOptions {
  return {
    width: 520,
    height: 700,
    minWidth: 360,
    minHeight: 420,
    show: true,
    title: 'Security key — PIM Agent',
    autoHideMenuBar: true,
    webPreferences: { partition: CEREMONY_PARTITION, ...LOCKED_DOWN },
  };
}

/** A ceremony window may only go to pages of the control plane's origin: same scheme, host and
 *  port, http(s) only, no credentials in the URL. */
export function isAllowedCeremonyNavigation(url: string, controlPlaneOrigin: string): boolean {
  const a = httpOrigin(url);
  return a !== null && a === httpOrigin(controlPlaneOrigin);
}

export type CeremonyOpen = { ok: true; url: string; external: boolean } | { ok: false; code: string; message: string };

/**
 * What to do with an `openCeremony` call from the popover: its input must match the contract and
 * name a ceremony page of the control plane the agent is connected to (or enrolling with);
 * anything else is refused. `external` means the system browser (http(s) of that origin only).
 */
export function resolveCeremonyOpen(input: unknown, server: string | null): CeremonyOpen {
  const parsed = contract.openCeremony.input.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, code: 'bad-input', message: 'openCeremony: expected { url, external? }' };
  if (!server) return { ok: false, code: 'not-connected', message: 'not connected to a control plane' };
  if (!isCeremonyUrl(parsed.data.url, server))
    return {
      ok: false,
      code: 'bad-ceremony-url',
      message: 'that is not a ceremony page of the connected control plane',
    };
  return { ok: true, url: parsed.data.url, external: parsed.data.external === true };
}

/** The popover may only (re)load its own page; every other navigation is cancelled. */
export function isAllowedNavigation(url: string, appUrl: string): boolean {
  return isSameDocument(url, appUrl);
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where to put the popover: centred under a tray icon at the top of the screen, above one at the
 * bottom (beside one on the left or right edge), always inside the display's work area. Without
 * tray bounds (Linux AppIndicator reports none) it goes to the work area's top-right corner.
 */
export function popoverPosition(
  tray: Rect | null,
  size: { width: number; height: number },
  workArea: Rect,
  margin = 8,
): { x: number; y: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.round(Math.min(Math.max(v, lo), Math.max(lo, hi)));
  const minX = workArea.x + margin;
  const maxX = workArea.x + workArea.width - size.width - margin;
  const minY = workArea.y + margin;
  const maxY = workArea.y + workArea.height - size.height - margin;
  if (!tray || tray.width <= 0 || tray.height <= 0) return { x: clamp(maxX, minX, maxX), y: clamp(minY, minY, maxY) };

  const cx = tray.x + tray.width / 2;
  const cy = tray.y + tray.height / 2;
  const top = cy < workArea.y + workArea.height / 2;
  const left = cx < workArea.x + workArea.width / 2;
  const trayInWorkArea =
    tray.x >= workArea.x &&
    tray.x + tray.width <= workArea.x + workArea.width &&
    tray.y >= workArea.y &&
    tray.y + tray.height <= workArea.y + workArea.height;
  const sideTaskbar = trayInWorkArea
    ? false
    : tray.y >= workArea.y && tray.y + tray.height <= workArea.y + workArea.height;

  if (sideTaskbar) {
    // taskbar on the left or right edge: open beside the icon
    const x = left ? tray.x + tray.width + margin : tray.x - size.width - margin;
    return { x: clamp(x, minX, maxX), y: clamp(cy - size.height / 2, minY, maxY) };
  }
  const x = cx - size.width / 2;
  const y = top ? tray.y + tray.height + margin : tray.y - size.height - margin;
  return { x: clamp(x, minX, maxX), y: clamp(y, minY, maxY) };
}

/**
 * Maps an `app://pim/<path>` request to a file below `root` (POSIX-style join; main.ts passes a
 * native root). Returns null for other hosts, encoded separators, dot segments escaping the root,
 * or anything not a plain file path. `/` serves index.html.
 */
export function resolveAppAsset(requestUrl: string, root: string, sep = '/'): string | null {
  let u: URL;
  try {
    u = new URL(requestUrl);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST || u.username || u.password) return null;
  // URL parsing already removed "." and ".." segments; anything encoded that decodes to a
  // separator, a dot segment or a NUL is refused rather than interpreted.
  const raw = u.pathname === '/' ? '/index.html' : u.pathname;
  const segments: string[] = [];
  for (const enc of raw.split('/').slice(1)) {
    let seg: string;
    try {
      seg = decodeURIComponent(enc);
    } catch {
      return null;
    }
    if (seg === '' || seg === '.' || seg === '..' || /[\\/\0:]/.test(seg)) return null;
    segments.push(seg);
  }
  if (segments.length === 0) return null;
  const base = root.endsWith(sep) ? root.slice(0, -1) : root;
  return [base, ...segments].join(sep);
}
