// What the popover was opened for: the tray app loads it with a fragment (a tray item, a
// notification click, a pim-agent:// link): #activate=<role>&duration=<s>, #approve=<id>,
// #view=<roles|approvals|audit|extend>&role=<role>. It only ever opens a view or prefills the
// activate dialog — the user still submits and touches the key. Pure.
import { ROLE_NAME_RE as ROLE } from '../shared/role-name';
export type OpenTab = 'roles' | 'approvals' | 'audit';

export interface OpenRequest {
  tab: OpenTab | null;
  activate: { role: string; duration: number | null } | null;
}

const TABS: Readonly<Record<string, OpenTab>> = {
  roles: 'roles',
  extend: 'roles',
  approvals: 'approvals',
  audit: 'audit',
};

export function parseOpenRequest(hash: string): OpenRequest | null {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const role = p.get('activate');
  if (role !== null) {
    if (!ROLE.test(role)) return null;
    const d = p.get('duration');
    const duration = d !== null && /^\d{2,7}$/.test(d) ? Number(d) : null;
    return { tab: 'roles', activate: { role, duration } };
  }
  if (p.get('approve') !== null) return { tab: 'approvals', activate: null };
  const view = p.get('view');
  if (view !== null && Object.prototype.hasOwnProperty.call(TABS, view)) return { tab: TABS[view]!, activate: null };
  return null;
}
