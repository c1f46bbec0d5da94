// The tray menu as plain data, built from the agent's state. main.ts turns it into an Electron
// Menu; everything about what it says is decided (and tested) here.
import type { AgentState, RoleView } from '../../shared/api';

export type MenuItemType = 'normal' | 'separator' | 'submenu';

export interface MenuItemTemplate {
  type: MenuItemType;
  /** what a click means: 'refresh', 'quit', anything else opens the popover ('open', 'role:<name>',
   *  'blocked:<name>', 'open:more-…'); absent = inert */
  id?: string;
  /** Electron label syntax: a literal '&' is written '&&' */
  label: string;
  enabled: boolean;
  submenu?: MenuItemTemplate[];
}

export const MAX_LABEL = 60;
/** More roles than this in one list are summarised by an "… N more" entry. */
export const MAX_ROLES_LISTED = 15;

// C0/C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, zero-width
// characters and the BOM: nothing in a menu label needs them, and they can disguise a name.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** A label that shows what it says: unsafe characters removed, whitespace collapsed, length capped, '&' escaped. */
export function safeLabel(text: string, max = MAX_LABEL): string {
  let s = text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
  const chars = Array.from(s);
  if (chars.length > max) s = chars.slice(0, max - 1).join('').trimEnd() + '…';
  return s.replace(/&/g, '&&');
}

/** Seconds → "2h", "1h30m", "45m" (the same style as the popover). */
export function shortDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0m';
  const total = Math.round(seconds);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const out = `${d ? `${d}d` : ''}${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s && !d && !h ? `${s}s` : ''}`;
  return out || '0m';
}

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

export function buildTrayMenu(state: AgentState | null): MenuItemTemplate[] {
  const quit = item('quit', 'Quit');
  if (!state) return [item('status', 'Starting…', false), separator(), quit];

  const menu: MenuItemTemplate[] = [item('status', safeLabel(statusLine(state), 80), false)];
  if (state.connection === 'unconfigured') {
    menu.push(item(undefined, 'Run “pim connect …” to enrol this device', false));
  }

  const eligible = state.roles.filter((r) => r.decision.allowed);
  const blocked = state.roles.filter((r) => !r.decision.allowed);

  menu.push(separator(), item('eligible-header', 'Eligible roles', false));
  if (eligible.length === 0) menu.push(item(undefined, 'None right now', false));
  for (const r of eligible.slice(0, MAX_ROLES_LISTED)) {
    menu.push(item(`role:${r.name}`, `${safeLabel(r.name, 40)} (max ${shortDuration(r.decision.requirements.maxDuration)})`));
  }
  if (eligible.length > MAX_ROLES_LISTED) menu.push(item('open:more-eligible', `… ${eligible.length - MAX_ROLES_LISTED} more`));

  if (blocked.length > 0) {
    const sub = blocked.slice(0, MAX_ROLES_LISTED).map((r) => item(`blocked:${r.name}`, `${safeLabel(r.name, 32)} — ${safeLabel(firstReason(r), 90)}`));
    if (blocked.length > MAX_ROLES_LISTED) sub.push(item('open:more-blocked', `… ${blocked.length - MAX_ROLES_LISTED} more`));
    menu.push({ type: 'submenu', id: 'blocked', label: `Not available (${blocked.length})`, enabled: true, submenu: sub });
  }

  menu.push(separator(), item('refresh', 'Refresh policy', state.connection !== 'unconfigured'), item('open', 'Open PIM Agent'), separator(), quit);
  return menu;
}

export type MenuAction = 'quit' | 'refresh' | 'open';

/** What clicking the item with this id does; null for inert items. */
export function menuAction(id: string | undefined): MenuAction | null {
  if (id === undefined || id === 'status' || id === 'eligible-header' || id === 'blocked') return null;
  if (id === 'quit') return 'quit';
  if (id === 'refresh') return 'refresh';
  return 'open';
}
