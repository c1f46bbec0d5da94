import assert from 'node:assert/strict';
import { test } from 'vitest';
import { compilePolicy } from '../../shared/policy/compile';
import { parsePolicyYaml } from '../../shared/policy/parse-yaml';
import { nearest, reviewPolicy } from '../../shared/policy/review';
import { engPolicy } from '../helpers/eng-policy';

function compiled(yaml: string) {
  const p = parsePolicyYaml(yaml);
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return compilePolicy(p.policy);
}

const BASE = engPolicy({
  users: [
    '{ email: alice@acme.example, groups: [eng] }',
    '{ email: bob@acme.example, groups: [eng, leads] }',
    '{ email: carol@acme.example, groups: [leads] }',
  ],
});

test('a sound policy has no warnings, and the first publish lists what everyone gains', () => {
  const r = reviewPolicy(null, compiled(BASE));
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.changes, [
    '+ role readonly',
    '+ role admin',
    'alice@acme.example gains eligibility for readonly, admin',
    'bob@acme.example gains eligibility for readonly, admin',
  ]);
});

test('a misspelt group: the warning names it and guesses the right one; the diff shows who loses what', () => {
  const typo = BASE.replace(
    'eligible: { groups: [eng] }\n    activation: { maxDuration: 8h',
    'eligible: { groups: [egn] }\n    activation: { maxDuration: 8h',
  );
  const r = reviewPolicy(compiled(BASE), compiled(typo));
  assert.deepEqual(
    r.warnings.map((w) => [w.code, w.message]),
    [
      ['empty-group', 'group "egn" has no members (eligible for readonly): did you mean "eng"?'],
      ['nobody-eligible', 'nobody is eligible for role readonly'],
    ],
  );
  assert.deepEqual(r.changes, [
    'alice@acme.example loses eligibility for readonly',
    'bob@acme.example loses eligibility for readonly',
  ]);
});

test('no roles; an approval only the requester could give; approvers that change', () => {
  assert.deepEqual(
    reviewPolicy(compiled(BASE), compiled('roles: []\n')).warnings.map((w) => w.code),
    ['no-roles'],
  );
  assert.ok(reviewPolicy(compiled(BASE), compiled('roles: []\n')).changes.includes('- role admin'));

  // without carol, bob is the only lead: nobody can approve his own request
  const onlyBob = compiled(BASE.replace('  - { email: carol@acme.example, groups: [leads] }\n', ''));
  const w = reviewPolicy(null, onlyBob).warnings;
  assert.deepEqual(
    w.map((x) => x.code),
    ['approval-unsatisfiable'],
  );
  assert.equal(
    w[0]!.message,
    'role admin needs 1 approval(s) from group leads, which nobody but the requester can give for bob@acme.example',
  );

  const two = compiled(
    BASE.replace('count: 1 }', 'count: 1, selfApproval: false }').replace(
      'groups: [leads] }',
      'groups: [leads], users: [dan@acme.example] }',
    ),
  );
  assert.ok(
    reviewPolicy(compiled(BASE), two).changes.includes(
      'approvers of admin: 1 of group leads → 1 of group leads, dan@acme.example',
    ),
  );
});

test('did-you-mean only for near misses', () => {
  assert.equal(nearest('ml-platfrom', ['ml-platform', 'ml-leads']), 'ml-platform');
  assert.equal(nearest('finance', ['ml-platform', 'eng']), null);
});

test('ticket.hint travels from the YAML to the engine, whose refusal uses those words', async () => {
  const { decide } = await import('../../shared/policy/engine');
  const { subjectFromMember } = await import('../../shared/policy/compile');
  const c = compiled(`
roles:
  - name: prod
    eligible: { groups: [eng] }
    activation:
      maxDuration: 1h
      justification: optional
      ticket: { required: true, pattern: '^(INC|CHG)-[0-9]+$', hint: 'an incident or change ID, like INC-1234' }
users:
  - { email: alice@acme.example, groups: [eng] }
`);
  const role = c.roles.roles[0]!;
  assert.equal(role.activation.ticket.hint, 'an incident or change ID, like INC-1234');
  const d = decide({
    subject: subjectFromMember(c.members[0]!),
    role,
    now: new Date(),
    mode: 'request',
    ask: { ticket: 'JIRA-9' },
    activeCount: 0,
  });
  assert.equal(d.requirements.ticket.hint, 'an incident or change ID, like INC-1234');
  assert.ok(
    d.reasons.some(
      (r) =>
        r.code === 'ticket-invalid' &&
        r.message === 'ticket "JIRA-9" is not an incident or change ID, like INC-1234 (pattern ^(INC|CHG)-[0-9]+$)',
    ),
    JSON.stringify(d.reasons),
  );
});
