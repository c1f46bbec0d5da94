// Which URLs are ceremony pages of a given control plane (docs/architecture.md, Decisions: WebAuthn origin): the page
// the security key is touched on is served by the control plane at its own origin, at
//   /ceremony/enrol/<id>   /ceremony/activation/<id>   /ceremony/approval/<64 hex nonce>
// The agent, the renderer and Electron's main process all refuse to open anything else. Pure.

const CEREMONY_PATH = /^\/ceremony\/(?:(?:enrol|activation)\/[A-Za-z0-9_-]{1,64}|approval\/[0-9a-f]{64})$/;

/** The origin (scheme://host:port) of an http(s) URL without credentials; null for anything else. */
export function httpOrigin(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username || u.password) return null;
  return u.origin;
}

/** True when both are http(s) URLs of the very same origin: scheme, host and port. */
export function sameOrigin(url: string, other: string): boolean {
  const a = httpOrigin(url);
  return a !== null && a === httpOrigin(other);
}

/** True when `url` is a ceremony page of the control plane at `server` (same origin, ceremony path, no query). */
export function isCeremonyUrl(url: string, server: string | null | undefined): boolean {
  if (!server || url.length > 2048 || !sameOrigin(url, server)) return false;
  const u = new URL(url);
  return u.search === '' && u.hash === '' && CEREMONY_PATH.test(u.pathname);
}
