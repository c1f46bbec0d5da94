// The engineering team's policy the CLI-level, Electron and policy-review tests start from, as YAML
// text: `readonly` (auto-approved, up to 8 h) and `admin` (up to 2 h, one of leads approves). Each
// test adds only what it is about — admin's rules, more roles, who the users are — so a fixture
// says how it differs from the common one instead of repeating it.

/** A `users:` entry: this person in eng. */
export const engUser = (email: string) => `{ email: ${email}, groups: [eng] }`;

const ALICE = engUser('alice@acme.example');

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

/** Only `readonly` (auto-approved, up to 8 h), with these users (alice in eng by default): the
 *  policy of the control-plane contract, device-auth and audit tests and the audit bench. */
export function readonlyPolicy(users: string[] = [ALICE]): string {
  return `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional }
users:
${users.map((u) => `  - ${u}\n`).join('')}`;
}

/** readonly only, alice in eng. */
export const READONLY_POLICY = readonlyPolicy();
