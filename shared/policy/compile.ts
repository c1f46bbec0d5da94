// Source policy (validated YAML) -> the files the control plane signs: one roles file for everyone
// and one member file per user. Individual eligibility (`eligible.users`) moves into the user's
// member file as an assignment, so the roles file never lists e-mail addresses of eligible users
// and a laptop only learns about its own user. Output is deterministic (same input, same bytes):
// roles keep their written order, members are sorted by e-mail.

import { compileAzureGrant, compileGcpGrant } from './cloud-grants';
import type { PolicySource } from './schema';
import type { Assignment, CompiledRole, MemberFile, RolesFile, Subject } from './types';

export interface CompiledPolicy {
  roles: RolesFile;
  members: MemberFile[];
}

export function compilePolicy(src: PolicySource): CompiledPolicy {
  const members = new Map<string, { groups: string[]; assignments: Assignment[] }>();
  const member = (email: string) => {
    const key = email.toLowerCase();
    let m = members.get(key);
    if (m === undefined) {
      m = { groups: [], assignments: [] };
      members.set(key, m);
    }
    return m;
  };

  for (const u of src.users) {
    const m = member(u.email);
    for (const g of u.groups) if (!m.groups.includes(g)) m.groups.push(g);
  }

  const roles: CompiledRole[] = src.roles.map((r) => {
    const roleUntil = r.eligible.until ?? null;
    for (const eu of r.eligible.users) {
      member(eu.email).assignments.push({ role: r.name, until: earlier(eu.until ?? null, roleUntil) });
    }
    // Approvers need a member file too: they sign in to approve even if they activate nothing.
    for (const a of r.activation.approval?.approvers.users ?? []) member(a);

    const a = r.activation;
    return {
      name: r.name,
      description: r.description,
      eligible: { groups: unique(r.eligible.groups), until: roleUntil },
      activation: {
        maxDuration: a.maxDuration,
        defaultDuration: a.defaultDuration,
        userVerification: a.mfa.userVerification,
        justification: a.justification,
        ticket: {
          required: a.ticket?.required ?? false,
          pattern: a.ticket?.pattern ?? null,
          ...(a.ticket?.hint ? { hint: a.ticket.hint } : {}),
        },
        approval: a.approval
          ? {
              approvers: { groups: unique(a.approval.approvers.groups), users: unique(a.approval.approvers.users) },
              count: a.approval.count,
              selfApproval: a.approval.selfApproval,
            }
          : null,
        windows: a.windows.map((w) => ({ days: [...w.days], from: w.from, to: w.to, tz: w.tz })),
        maxActive: a.maxActive ?? null,
        // only when on, so policies without it compile to the same bytes as before
        ...(a.sessionTrail ? { sessionTrail: true as const } : {}),
        // likewise only when set
        ...(a.onLock ? { onLock: a.onLock } : {}),
      },
      grants: {
        kubernetes: r.grants.kubernetes.map((k) => ({ cluster: k.cluster, groups: [...k.groups] })),
        // Optional fields are left out rather than set to undefined, so JSON and JCS agree.
        aws: r.grants.aws.map((g) => ({
          roleArn: g.roleArn,
          ...(g.audience !== undefined && { audience: g.audience }),
          ...(g.stsEndpoint !== undefined && { stsEndpoint: g.stsEndpoint }),
          ...(g.region !== undefined && { region: g.region }),
        })),
        ssh: r.grants.ssh.map((s) => ({
          principals: [...s.principals],
          hosts: [...s.hosts],
          ...(s.extensions !== undefined && { extensions: [...s.extensions] }),
        })),
        // only when granted, so policies without them compile to the same bytes as before
        ...(r.grants.gcp.length > 0 && { gcp: r.grants.gcp.map(compileGcpGrant) }),
        ...(r.grants.azure.length > 0 && { azure: r.grants.azure.map(compileAzureGrant) }),
      },
    };
  });

  const memberFiles: MemberFile[] = [...members.keys()].sort(compareStrings).map((email) => {
    const m = members.get(email)!;
    return { schema: 'pim-member/v1', email, groups: m.groups, assignments: m.assignments };
  });

  return {
    roles: {
      schema: 'pim-roles/v1',
      roles,
      clusters: src.clusters.map((c) => ({
        name: c.name,
        server: c.server,
        ...(c.certificateAuthorityData !== undefined && { certificateAuthorityData: c.certificateAuthorityData }),
      })),
    },
    members: memberFiles,
  };
}

/** The engine's view of a user, from their (verified) member file. */
export function subjectFromMember(m: MemberFile): Subject {
  return {
    email: m.email.toLowerCase(),
    groups: [...m.groups],
    assignments: m.assignments.map((a) => ({ role: a.role, until: a.until })),
  };
}

/** The subject for `email` in a compiled policy; a user it does not name gets no groups and no
 *  assignments (and so is eligible for nothing). */
export function subjectForEmail(compiled: CompiledPolicy, email: string): Subject {
  const key = email.trim().toLowerCase();
  const m = compiled.members.find((x) => x.email === key);
  return m ? subjectFromMember(m) : { email: key, groups: [], assignments: [] };
}

/** The sooner of two optional ISO instants (null = no end). */
function earlier(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

// Code-unit order, not locale order: the same on every machine.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
