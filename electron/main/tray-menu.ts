// The tray menu as plain data, built from the agent's state. main.ts turns it into an Electron
// Menu; everything about what it says is decided (and tested) here.
import type { ActivationView, AgentState, RoleView } from '../../shared/api';
import { compactDuration, timeLeft } from '../../shared/duration';
import { plainText } from '../../shared/plain-text';

export type MenuItemType = 'normal' | 'separator' | 'submenu' | 'checkbox';

export interface MenuItemTemplate {
  type: MenuItemType;
  /** what a click means: 'refresh', 'quit', 'deactivate:<role>', anything else opens the popover
   *  ('open', 'role:<name>', 'active:<name>', 'extend:<name>', 'request:<name>', 'blocked:<name>',
   *  'open:more-…'; extending is a key-signed request, so "Extend…" opens the popover's banner);
   *  absent = inert */
  id?: string;
  /** Electron label syntax: a literal '&' is written '&&' */
  label: string;
  enabled: boolean;
  /** checkbox items only */
  checked?: boolean;
  submenu?: MenuItemTemplate[];
}

/** What the menu shows beyond the agent's state. */
export interface TrayExtras {
  /** requests waiting for this user's approval (null: not known) */
  approvalsWaiting?: number | null;
  /** the "Start at login" setting (undefined: not offered) */
  startAtLogin?: boolean;
}

/** The tray icon for a state: build/icons/tray-<state>.png. */
export type TrayIconState = 'idle' | 'active' | 'pending' | 'offline' | 'error';

/** policy copy past its expiry: every role is ineligible (`policy-expired`) until a refresh */
export function policyExpired(state: Pick<AgentState, 'now' | 'policy'>): boolean {
  return state.policy !== null && Date.parse(state.policy.expires) <= Date.parse(state.now);
}

export function trayIconState(state: AgentState | null, extras: TrayExtras = {}): TrayIconState {
  if (!state) return 'idle';
  if (state.connection === 'rejected') return 'error';
  if (state.connection === 'offline' || policyExpired(state)) return 'offline';
  const now = Date.parse(state.now);
  if (state.activations.some((a) => a.state === 'active' && a.expiresAt && Date.parse(a.expiresAt) > now))
    return 'active';
  if (
    (extras.approvalsWaiting ?? 0) > 0 ||
    state.activations.some((a) => a.state === 'requested' || a.state === 'pending-approval' || a.state === 'approved')
  )
    return 'pending';
  return 'idle';
}

export const MAX_LABEL = 60;
/** More roles than this in one list are summarised by an "… N more" entry. */
export const MAX_ROLES_LISTED = 15;

export { plainText };

/** A label that shows what it says: unsafe characters removed, whitespace collapsed, length capped, '&' escaped. */
export function safeLabel(text: string, max = MAX_LABEL): string {
  let s = plainText(text);
  const chars = Array.from(s);
  if (chars.length > max)
    s =
      chars
        .slice(0, max - 1)
        .join('')
        .trimEnd() + '…';
  return s.replace(/&/g, '&&');
}

/** Seconds → "2h", "1h30m", "45m" (the same style as the popover). */
export const shortDuration = (seconds: number): string => compactDuration(seconds, 'minutes');

const CONNECTION_TEXT: Record<AgentState['connection'], string> = {
  online: 'online',
  offline: 'offline',
  rejected: 'policy update rejected',
  unconfigured: 'not connected',
};

function statusLine(state: AgentState): string {
  const who = state.user?.email ?? 'Not signed in';
  return `${who} — ${CONNECTION_TEXT[state.connection] ?? state.connection}`;
}

function firstReason(role: RoleView): string {
  const r = role.decision.reasons.find((x) => x.blocking) ?? role.decision.reasons[0];
  return r?.message ?? 'not available now';
}

function item(id: string | undefined, label: string, enabled = true): MenuItemTemplate {
  return id === undefined ? { type: 'normal', label, enabled } : { type: 'normal', id, label, enabled };
}

const separator = (): MenuItemTemplate => ({ type: 'separator', label: '', enabled: true });

function policyLine(state: AgentState): string | null {
  if (!state.policy) return null;
  if (policyExpired(state)) return `Policy v${state.policy.version} — expired, no role can be activated`;
  return `Policy v${state.policy.version}${state.connection === 'offline' ? ' — offline copy' : ''}`;
}

export function buildTrayMenu(state: AgentState | null, extras: TrayExtras = {}): MenuItemTemplate[] {
  const quit = item('quit', 'Quit');
  if (!state) return [item('status', 'Starting…', false), separator(), quit];

  const menu: MenuItemTemplate[] = [item('status', safeLabel(statusLine(state), 80), false)];
  const policy = policyLine(state);
  if (policy) menu.push(item('policy', policy, false));
  if (state.connection === 'unconfigured') {
    menu.push(
      item(
        undefined,
        state.enrolment?.state === 'waiting'
          ? 'Enrolling: register your security key'
          : 'Open PIM Agent to enrol this device',
        false,
      ),
    );
  }

  const now = Date.parse(state.now);
  const active = state.activations.filter((a) => a.state === 'active' && a.expiresAt && Date.parse(a.expiresAt) > now);
  if (active.length > 0) {
    menu.push(separator(), item('active-header', 'Active roles', false));
    for (const a of active.slice(0, MAX_ROLES_LISTED)) {
      // ending soon (the agent's notices: 10, then 2 minutes before): say so, and offer to extend
      const notice = state.notices.find((n) => n.activation === a.id);
      menu.push(
        item(
          `active:${a.role}`,
          `${safeLabel(a.role, 40)} — ${notice ? `ends in ${notice.minutesLeft} min` : timeLeft(Date.parse(a.expiresAt!) - now)}`,
        ),
      );
      if (notice) menu.push(item(`extend:${a.role}`, `Extend ${safeLabel(a.role, 40)}…`));
      menu.push(item(`deactivate:${a.role}`, `Deactivate ${safeLabel(a.role, 40)}`));
    }
  }
  const waiting = state.activations.filter(
    (a) => a.state === 'requested' || a.state === 'pending-approval' || a.state === 'approved',
  );
  if (waiting.length > 0) {
    menu.push(separator(), item('requests-header', 'Requests', false));
    for (const a of waiting.slice(0, MAX_ROLES_LISTED))
      menu.push(item(`request:${a.role}`, `${safeLabel(a.role, 40)} — ${REQUEST_TEXT[a.state] ?? a.state}`));
  }

  const approvals = extras.approvalsWaiting ?? 0;
  if (approvals > 0) menu.push(separator(), item('approvals', `Waiting for your approval (${approvals})…`));

  const eligible = state.roles.filter((r) => r.decision.allowed);
  const blocked = state.roles.filter((r) => !r.decision.allowed);

  menu.push(separator(), item('eligible-header', 'Eligible roles', false));
  if (eligible.length === 0) menu.push(item(undefined, 'None right now', false));
  for (const r of eligible.slice(0, MAX_ROLES_LISTED)) {
    menu.push(
      item(
        `role:${r.name}`,
        `Activate ${safeLabel(r.name, 40)}… (max ${shortDuration(r.decision.requirements.maxDuration)})`,
      ),
    );
  }
  if (eligible.length > MAX_ROLES_LISTED)
    menu.push(item('open:more-eligible', `… ${eligible.length - MAX_ROLES_LISTED} more`));

  if (blocked.length > 0) {
    const sub = blocked
      .slice(0, MAX_ROLES_LISTED)
      .map((r) => item(`blocked:${r.name}`, `${safeLabel(r.name, 32)} — ${safeLabel(firstReason(r), 90)}`));
    if (blocked.length > MAX_ROLES_LISTED)
      sub.push(item('open:more-blocked', `… ${blocked.length - MAX_ROLES_LISTED} more`));
    menu.push({
      type: 'submenu',
      id: 'blocked',
      label: `Not available (${blocked.length})`,
      enabled: true,
      submenu: sub,
    });
  }

  menu.push(
    separator(),
    item('refresh', 'Refresh policy', state.connection !== 'unconfigured'),
    item('open', 'Open PIM Agent'),
  );
  if (extras.startAtLogin !== undefined)
    menu.push({
      type: 'checkbox',
      id: 'start-at-login',
      label: 'Start at login',
      enabled: true,
      checked: extras.startAtLogin,
    });
  menu.push(separator(), quit);
  return menu;
}

const REQUEST_TEXT: Partial<Record<ActivationView['state'], string>> = {
  requested: 'touch your security key',
  'pending-approval': 'waiting for approval',
  approved: 'approved, starting',
};

// the menu's "N min left" (shared/duration.ts), still exported from here for the tray's tests
export { timeLeft };

export type MenuAction = 'quit' | 'refresh' | 'open' | 'deactivate' | 'activate' | 'approvals' | 'start-at-login';

const INERT = new Set(['status', 'policy', 'eligible-header', 'active-header', 'requests-header', 'blocked']);

/** What clicking the item with this id does; null for inert items. */
export function menuAction(id: string | undefined): MenuAction | null {
  if (id === undefined || INERT.has(id)) return null;
  if (id === 'quit') return 'quit';
  if (id === 'refresh') return 'refresh';
  if (id === 'approvals') return 'approvals';
  if (id === 'start-at-login') return 'start-at-login';
  // "Activate <role>…" opens the activate dialog prefilled for that role
  if (id.startsWith('role:') && id.length > 'role:'.length) return 'activate';
  if (id.startsWith('deactivate:') && id.length > 'deactivate:'.length) return 'deactivate';
  return 'open';
}

/** The role a 'role:<role>' item names; null for any other id. */
export function activateTarget(id: string | undefined): string | null {
  return id !== undefined && menuAction(id) === 'activate' ? id.slice('role:'.length) : null;
}

/** The role a 'deactivate:<role>' item names; null for any other id. */
export function deactivateTarget(id: string | undefined): string | null {
  return id !== undefined && menuAction(id) === 'deactivate' ? id.slice('deactivate:'.length) : null;
}
