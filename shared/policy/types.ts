// The compiled policy: what the control plane signs (as TUF targets) and what the agent and the
// server both feed to the engine. Durations are whole seconds; instants are ISO-8601 UTC strings.

import type { AzureGrant, GcpGrant } from './cloud-grants';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface TimeWindow {
  days: Weekday[];
  /** local wall-clock "HH:MM" in `tz`; a window whose `to` <= `from` runs past midnight */
  from: string;
  to: string;
  /** IANA time zone, e.g. Europe/Berlin */
  tz: string;
}

export type UserVerification = 'required' | 'preferred' | 'discouraged';

export interface ApprovalRule {
  approvers: { groups: string[]; users: string[] };
  count: number;
  selfApproval: boolean;
}

export interface CompiledRole {
  name: string;
  description: string;
  /** who may activate: group names; individual users are compiled into member files as assignments */
  eligible: { groups: string[]; until: string | null };
  activation: {
    maxDuration: number;
    defaultDuration: number;
    userVerification: UserVerification;
    justification: 'required' | 'optional';
    ticket: { required: boolean; pattern: string | null; hint?: string };
    approval: ApprovalRule | null;
    windows: TimeWindow[];
    maxActive: number | null;
    /** commands typed in shells while the role is active are journaled (opt-in, off by default) */
    sessionTrail?: true;
    /** the role ends when the desktop session locks or the machine suspends (tray app only) */
    onLock?: 'deactivate';
  };
  grants: {
    kubernetes: { cluster: string; groups: string[] }[];
    aws: { roleArn: string; audience?: string; stsEndpoint?: string; region?: string }[];
    ssh: { principals: string[]; hosts: string[]; extensions?: string[] }[];
    /** Google Cloud workload identity federation (absent when none) */
    gcp?: GcpGrant[];
    /** Azure workload identity federation (absent when none) */
    azure?: AzureGrant[];
  };
}

export interface Cluster {
  name: string;
  server: string;
  certificateAuthorityData?: string;
}

/** Target `policy/roles.json` */
export interface RolesFile {
  schema: 'pim-roles/v1';
  roles: CompiledRole[];
  clusters: Cluster[];
}

export interface Assignment {
  role: string;
  until: string | null;
}

/** Target `members/<sha256(lowercased email)>.json`: one per user */
export interface MemberFile {
  schema: 'pim-member/v1';
  email: string;
  groups: string[];
  /** direct eligibility (from a role's `eligible.users`) */
  assignments: Assignment[];
}

/** Who is asking: built from a MemberFile on the agent and from the YAML on the server. */
export interface Subject {
  email: string;
  groups: string[];
  assignments: Assignment[];
}

export type ReasonCode =
  | 'not-eligible'
  | 'eligibility-expired'
  | 'outside-window'
  | 'duration-exceeds-max'
  | 'justification-required'
  | 'ticket-required'
  | 'ticket-invalid'
  | 'approval-required'
  | 'max-active-reached'
  | 'policy-expired';

export interface Reason {
  code: ReasonCode;
  /** blocking reasons make `allowed` false; non-blocking ones (approval-required) are notices */
  blocking: boolean;
  /** one line a person can act on, e.g. "outside the activation window; next opens Mon 08:00 Europe/Berlin" */
  message: string;
  /** machine-readable details: { next } for outside-window, { max } for duration-exceeds-max,
   *  { pattern } for ticket-invalid, { count, groups, users } for approval-required, { until } … */
  detail?: Record<string, string | number | string[] | null>;
}

export interface Requirements {
  maxDuration: number;
  defaultDuration: number;
  justification: 'required' | 'optional';
  ticket: { required: boolean; pattern: string | null; hint?: string };
  approval: ApprovalRule | null;
  userVerification: UserVerification;
  windows: TimeWindow[];
  /** ISO instant the next window opens when currently outside every window; null otherwise */
  nextWindowOpens: string | null;
  maxActive: number | null;
  /** eligibility end for this subject (role-level or assignment-level, whichever is sooner) */
  eligibleUntil: string | null;
}

export interface Decision {
  role: string;
  allowed: boolean;
  reasons: Reason[];
  requirements: Requirements;
}

export interface ActivationAsk {
  /** seconds; omitted = default duration */
  duration?: number;
  justification?: string;
  ticket?: string;
}

export interface DecideInput {
  subject: Subject;
  role: CompiledRole;
  now: Date;
  /** 'check' answers "could I?" — missing justification/ticket are requirements, not failures;
   *  'request' judges a real activation request — missing required fields are blocking reasons. */
  mode: 'check' | 'request';
  ask?: ActivationAsk;
  /** activations of this role the subject already holds (for maxActive) */
  activeCount?: number;
  /** expiry of the signed policy copy; at or after it every role is `policy-expired` */
  policyExpires?: Date | null;
}
