// Activations bound to the desktop session: a role whose policy says `activation.onLock: deactivate`
// ends when the screen locks or the machine suspends. Pure — main.ts calls it on powerMonitor's
// `lock-screen` and `suspend` and deactivates what it returns (journal reason `session-locked`).
// Headless `pim agent` has no such signal.
import type { ActivationView } from '../../shared/api';

export const SESSION_LOCK_EVENTS = ['lock-screen', 'suspend'] as const;
export const SESSION_LOCKED_REASON = 'session-locked';

/** Live states that hold (or are about to hold) the role: all of them end on lock. */
const LIVE: ReadonlySet<string> = new Set(['requested', 'pending-approval', 'approved', 'active']);

/** The roles to deactivate now, each once, in a stable order. */
export function rolesToEndOnLock(
  activations: readonly Pick<ActivationView, 'role' | 'state'>[],
  onLock: (role: string) => 'deactivate' | undefined,
): string[] {
  const roles = new Set<string>();
  for (const a of activations) if (LIVE.has(a.state) && onLock(a.role) === 'deactivate') roles.add(a.role);
  return [...roles].sort();
}
