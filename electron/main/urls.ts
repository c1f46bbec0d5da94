// URL comparisons shared by the navigation guard and the IPC sender check. Pure.

/** The custom scheme the renderer is served from (registered as standard + secure in main.ts). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'pim';
/** The one page the popover loads. */
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * True when `url` is the very document `appUrl` names: same scheme, host (with port), path and no
 * credentials; query and fragment are ignored. Anything unparsable is not the same document.
 */
export function isSameDocument(url: string, appUrl: string): boolean {
  const a = parse(url);
  const b = parse(appUrl);
  if (!a || !b) return false;
  if (a.username || a.password) return false;
  return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
}
