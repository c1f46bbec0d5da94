// What a publish would change, for whom, and what in it is probably a mistake — computed before
// anything is signed (`pim-server publish --dry-run`, and the warnings that stop a publish unless
// --force). Pure: compiled policies in, words out.
import type { CompiledPolicy } from './compile';
import type { CompiledRole } from './types';

export interface PolicyWarning {
  code: 'no-roles' | 'empty-group' | 'nobody-eligible' | 'approval-unsatisfiable';
  message: string;
}

export interface PolicyReview {
  /** one line per change, "+ role X", "alice@… gains X", … (empty: nothing changes) */
  changes: string[];
  warnings: PolicyWarning[];
}

function groupMembers(p: CompiledPolicy): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of p.members)
    for (const g of m.groups) (out.get(g) ?? out.set(g, new Set()).get(g)!).add(m.email.toLowerCase());
  return out;
}

/** Who may activate each role (ignoring time: eligibility `until` dates are not mistakes). */
function eligibility(p: CompiledPolicy): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>(p.roles.roles.map((r) => [r.name, new Set<string>()]));
  for (const m of p.members) {
    const email = m.email.toLowerCase();
    for (const r of p.roles.roles) if (r.eligible.groups.some((g) => m.groups.includes(g))) out.get(r.name)!.add(email);
    for (const a of m.assignments) out.get(a.role)?.add(email);
  }
  return out;
}

function approverSet(r: CompiledRole, groups: Map<string, Set<string>>): Set<string> {
  const a = r.activation.approval;
  const out = new Set<string>();
  if (!a) return out;
  for (const g of a.approvers.groups) for (const e of groups.get(g) ?? []) out.add(e);
  for (const u of a.approvers.users) out.add(u.toLowerCase());
  return out;
}

function approverText(r: CompiledRole | undefined): string {
  const a = r?.activation.approval;
  if (!a) return 'none (auto-approved)';
  const who = [...a.approvers.groups.map((g) => `group ${g}`), ...a.approvers.users];
  return `${a.count} of ${who.join(', ') || 'nobody'}${a.selfApproval ? ' (self-approval allowed)' : ''}`;
}

/** The closest name in `pool` to `name`, when it is close enough to be a typo. */
export function nearest(name: string, pool: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const p of pool) {
    const d = editDistance(name.toLowerCase(), p.toLowerCase());
    if (d < bestD) [best, bestD] = [p, d];
  }
  return best !== null && bestD > 0 && bestD <= Math.max(1, Math.floor(name.length / 4)) ? best : null;
}

/** Edits between two names, a swap of neighbours counting as one (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

export function reviewPolicy(prev: CompiledPolicy | null, next: CompiledPolicy): PolicyReview {
  const warnings: PolicyWarning[] = [];
  const groups = groupMembers(next);
  const eligible = eligibility(next);
  const roles = next.roles.roles;

  if (roles.length === 0)
    warnings.push({
      code: 'no-roles',
      message: 'the policy has no roles: publishing it makes every role ineligible for everyone',
    });
  const used = new Map<string, string[]>();
  for (const r of roles) {
    for (const g of r.eligible.groups) (used.get(g) ?? used.set(g, []).get(g)!).push(`eligible for ${r.name}`);
    for (const g of r.activation.approval?.approvers.groups ?? [])
      (used.get(g) ?? used.set(g, []).get(g)!).push(`approves ${r.name}`);
  }
  for (const [g, where] of used) {
    if (groups.get(g)?.size) continue;
    const guess = nearest(g, groups.keys());
    warnings.push({
      code: 'empty-group',
      message: `group "${g}" has no members (${where.join(', ')})${guess ? `: did you mean "${guess}"?` : ''}`,
    });
  }
  for (const r of roles) {
    const who = eligible.get(r.name)!;
    if (who.size === 0) warnings.push({ code: 'nobody-eligible', message: `nobody is eligible for role ${r.name}` });
    const a = r.activation.approval;
    if (!a) continue;
    const approvers = approverSet(r, groups);
    const stuck = [...who].filter(
      (u) => (a.selfApproval ? approvers.size : [...approvers].filter((x) => x !== u).length) < a.count,
    );
    if (stuck.length) {
      const names = stuck.slice(0, 3).join(', ') + (stuck.length > 3 ? ` and ${stuck.length - 3} more` : '');
      warnings.push({
        code: 'approval-unsatisfiable',
        message: `role ${r.name} needs ${a.count} approval(s) from ${approverText(r).replace(/^\d+ of /, '')}, which nobody but the requester can give for ${names}`,
      });
    }
  }

  const changes: string[] = [];
  const before = prev ? eligibility(prev) : new Map<string, Set<string>>();
  const prevRoles = new Map((prev?.roles.roles ?? []).map((r) => [r.name, r]));
  const nextRoles = new Map(roles.map((r) => [r.name, r]));
  for (const r of roles) if (!prevRoles.has(r.name)) changes.push(`+ role ${r.name}`);
  for (const r of prevRoles.keys()) if (!nextRoles.has(r)) changes.push(`- role ${r}`);
  const users = new Set([...before.values(), ...eligible.values()].flatMap((s) => [...s]));
  for (const u of [...users].sort()) {
    const had = [...before].filter(([, s]) => s.has(u)).map(([r]) => r);
    const has = [...eligible].filter(([, s]) => s.has(u)).map(([r]) => r);
    const gains = has.filter((r) => !had.includes(r));
    const loses = had.filter((r) => !has.includes(r));
    if (gains.length) changes.push(`${u} gains eligibility for ${gains.join(', ')}`);
    if (loses.length) changes.push(`${u} loses eligibility for ${loses.join(', ')}`);
  }
  for (const r of roles) {
    const p = prevRoles.get(r.name);
    if (p && approverText(p) !== approverText(r))
      changes.push(`approvers of ${r.name}: ${approverText(p)} → ${approverText(r)}`);
  }
  return { changes, warnings };
}
