// Before an active role ends, the user is told twice — 10 and 2 minutes before — with a one-click
// extend. Pure: the agent puts the current notices in its state, the UI shows a banner, and the
// Electron shell pops a native notification once per (activation, threshold).

/** minutes before the end, largest first */
export const NOTICE_THRESHOLDS_MIN = [10, 2] as const;

export interface ExpiryNotice {
  /** `${activation}:${threshold}`: one pop-up per key */
  key: string;
  activation: string;
  role: string;
  expiresAt: string;
  /** the threshold crossed: 10 or 2 */
  threshold: number;
  /** whole minutes left, rounded up (1 in the last minute) */
  minutesLeft: number;
}

interface ActivationLike {
  id: string;
  role: string;
  state: string;
  expiresAt: string | null;
}

/**
 * The notices due now: for each role's active activation (the latest-ending one — an extension
 * supersedes the activation it extends) whose end is at most 10 minutes away, the smallest
 * threshold already crossed.
 */
export function expiryNotices(activations: readonly ActivationLike[], nowMs: number): ExpiryNotice[] {
  const latest = new Map<string, ActivationLike>();
  for (const a of activations) {
    if (a.state !== 'active' || !a.expiresAt) continue;
    const end = Date.parse(a.expiresAt);
    if (!Number.isFinite(end) || end <= nowMs) continue;
    const prev = latest.get(a.role);
    if (!prev || Date.parse(prev.expiresAt!) < end) latest.set(a.role, a);
  }
  const out: ExpiryNotice[] = [];
  for (const a of latest.values()) {
    const left = Date.parse(a.expiresAt!) - nowMs;
    const crossed = NOTICE_THRESHOLDS_MIN.filter((m) => left <= m * 60_000);
    if (crossed.length === 0) continue;
    const threshold = Math.min(...crossed);
    out.push({
      key: `${a.id}:${threshold}`,
      activation: a.id,
      role: a.role,
      expiresAt: a.expiresAt!,
      threshold,
      minutesLeft: Math.max(1, Math.ceil(left / 60_000)),
    });
  }
  return out.sort((x, y) => Date.parse(x.expiresAt) - Date.parse(y.expiresAt) || (x.role < y.role ? -1 : 1));
}

/** The notices not popped up yet (and the keys to remember, so each one shows once). */
export function unseenNotices(notices: readonly ExpiryNotice[], seen: ReadonlySet<string>): ExpiryNotice[] {
  return notices.filter((n) => !seen.has(n.key));
}

/** "gpu-admin ends in 2 minutes" */
export function noticeText(n: ExpiryNotice): string {
  return `${n.role} ends in ${n.minutesLeft} minute${n.minutesLeft === 1 ? '' : 's'}`;
}
