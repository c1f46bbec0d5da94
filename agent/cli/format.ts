// Plain-text rendering of agent answers for the terminal. Names come from signed policy, but are
// still stripped of control characters before they reach a terminal.
import type { AgentState, RoleView } from '../../shared/api';
import { formatDuration } from '../../shared/policy/duration';
// the contract's Decision: what both the agent and the UI see
type Decision = RoleView['decision'];

export const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

export function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function utc(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

export function requirementSummary(d: Decision): string {
  const r = d.requirements;
  const parts = [`max ${formatDuration(r.maxDuration)}`];
  parts.push(r.justification === 'required' ? 'justification' : 'justification optional');
  if (r.ticket.required) parts.push(r.ticket.pattern ? `ticket ${r.ticket.pattern}` : 'ticket');
  if (r.approval)
    parts.push(
      `approval: ${r.approval.count} of ${[...r.approval.approvers.groups, ...r.approval.approvers.users].join(', ')}`,
    );
  else parts.push('auto-approved');
  if (r.userVerification === 'required') parts.push('key + PIN');
  if (r.windows.length) parts.push(r.windows.map((w) => `${w.days.join(',')} ${w.from}-${w.to} ${w.tz}`).join('; '));
  if (r.eligibleUntil) parts.push(`eligible until ${r.eligibleUntil.slice(0, 10)}`);
  return parts.map(clean).join(' · ');
}

export function statusLine(s: AgentState): string {
  const now = new Date(s.now);
  const conn =
    s.connection === 'online'
      ? 'online'
      : s.connection === 'offline'
        ? `OFFLINE (${clean(s.lastError ?? 'not refreshed yet')})`
        : s.connection === 'rejected'
          ? `UPDATE REJECTED (${clean(s.lastError ?? '')})`
          : 'not connected';
  if (!s.policy) return `No verified policy yet · ${conn}`;
  return `Policy v${s.policy.version} · verified ${ago(s.policy.verifiedAt, now)} · usable offline until ${utc(s.policy.expires)} · ${conn}`;
}

export function rolesText(s: AgentState, roles: RoleView[], showOthersHint: boolean): string {
  const lines = [statusLine(s)];
  const allowed = roles.filter((r) => r.decision.allowed);
  const blocked = roles.filter((r) => !r.decision.allowed);
  const width = Math.min(32, Math.max(8, ...roles.map((r) => r.name.length))) + 2;
  // nothing to list: say what to do instead of an empty table
  if (!s.server)
    return `${lines[0]}\n\nNothing is configured yet. Try it with the demo: \`npm start\` (a control plane of its own, in the browser), or enrol with the link from your admin: \`pim enroll LINK\`.\n`;
  if (!s.policy)
    return `${lines[0]}\n\nNo verified policy yet: run \`pim policy refresh\` (it needs the control plane at ${clean(s.server)} to answer once).\n`;
  if (roles.length === 0 && s.otherRoles === 0)
    return `${lines[0]}\n\nThe policy gives ${s.user ? clean(s.user.email) : 'you'} no roles: ask your admin to make you eligible (a group in the policy, or \`pim-server user add\`).\n`;
  lines.push('', allowed.length ? 'ELIGIBLE NOW' : 'No role can be activated right now.');
  for (const r of allowed) lines.push(`  ${clean(r.name).padEnd(width)}${requirementSummary(r.decision)}`);
  if (blocked.length) {
    lines.push('', 'NOT AVAILABLE');
    for (const r of blocked) {
      const why = r.decision.reasons
        .filter((x) => x.blocking)
        .map((x) => clean(x.message))
        .join('; ');
      lines.push(`  ${clean(r.name).padEnd(width)}${why}`);
    }
  }
  if (showOthersHint && s.otherRoles > 0)
    lines.push('', `${s.otherRoles} other role(s) you are not eligible for (pim roles --all)`);
  return lines.join('\n') + '\n';
}

export function checkText(d: Decision): string {
  const lines = [`${clean(d.role)}: ${d.allowed ? 'ALLOWED' : 'NOT ALLOWED'}`];
  for (const r of d.reasons) lines.push(`  ${r.blocking ? '✗' : 'i'} ${r.code}: ${clean(r.message)}`);
  lines.push(`  requires: ${requirementSummary(d)}`);
  if (d.requirements.nextWindowOpens) lines.push(`  next window opens: ${utc(d.requirements.nextWindowOpens)}`);
  return lines.join('\n') + '\n';
}

interface ActivationRow {
  id: string;
  role: string;
  state: string;
  expiresAt: string | null;
  endReason: string | null;
  approvals: { approver: string; decision: string }[];
}

/** Requests nobody signed lapse after 5 minutes; listing them forever only buries the real ones. */
export function neverSigned(a: Pick<ActivationRow, 'state' | 'endReason'>): boolean {
  return a.state === 'request-expired' && /^not signed/.test(a.endReason ?? '');
}

/** `pim activations`: a header row, who approved, and lapsed unsigned requests hidden (counted). */
export function activationsText(list: ActivationRow[], opts: { all?: boolean } = {}): string {
  const shown = opts.all ? list : list.filter((a) => !neverSigned(a));
  const hidden = list.length - shown.length;
  if (shown.length === 0)
    return hidden
      ? `No activations (${hidden} unsigned request(s) that lapsed are hidden; --all shows them).\n`
      : 'No activations yet: `pim roles` lists what you may activate.\n';
  const by = (a: ActivationRow) =>
    a.approvals
      .filter((x) => x.decision === 'approve')
      .map((x) => clean(x.approver))
      .join(', ') || '-';
  const when = (a: ActivationRow) =>
    a.expiresAt && ['active', 'approved', 'expired', 'deactivated', 'revoked'].includes(a.state)
      ? utc(a.expiresAt)
      : '-';
  const rows = [
    ['ID', 'ROLE', 'STATE', 'UNTIL', 'APPROVED BY'],
    ...shown.map((a) => [a.id, clean(a.role), a.state, when(a), by(a)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  if (hidden) lines.push(`(${hidden} unsigned request(s) that lapsed are hidden; --all shows them)`);
  return lines.join('\n') + '\n';
}
