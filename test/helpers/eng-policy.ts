// The engineering team's policy the CLI-level, Electron and policy-review tests start from, as YAML
// text: `readonly` (auto-approved, up to 8 h) and `admin` (up to 2 h, one of leads approves). Each
// test adds only what it is about — admin's rules, more roles, who the users are — so a fixture
// says how it differs from the common one instead of repeating it.

const ALICE = '{ email: alice@acme.example, groups: [eng] }';

export interface EngPolicyOptions {
  /** more lines of admin's `activation:` (between maxDuration and approval), e.g. a ticket rule */
  admin?: string[];
  /** whole role entries (YAML list items) listed before admin, and after it */
  rolesBefore?: string;
  rolesAfter?: string;
  /** the `users:` entries; none (no users section) with [] — alice in eng by default */
  users?: string[];
}

export function engPolicy(o: EngPolicyOptions = {}): string {
  const admin = (o.admin ?? []).map((l) => `      ${l}\n`).join('');
  const users = o.users ?? [ALICE];
  return `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional }
${o.rolesBefore ?? ''}  - name: admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
${admin}      approval: { approvers: { groups: [leads] }, count: 1 }
${o.rolesAfter ?? ''}${users.length ? `users:\n${users.map((u) => `  - ${u}\n`).join('')}` : ''}`;
}

/** The policy as it comes, alice in eng. */
export const ENG_POLICY = engPolicy();

/** admin needs a ticket (INC-<digits>) as well as the approval. */
export const TICKET = "ticket: { required: true, pattern: '^INC-[0-9]+$' }";
