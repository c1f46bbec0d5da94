import { test } from 'vitest';
import assert from 'node:assert/strict';
import { decide, decideAll, indexRoles } from '../../shared/policy/engine';
import type { CompiledRole, Decision, DecideInput, ReasonCode, Subject } from '../../shared/policy/types';

// Mon 2026-05-04 12:00 in Berlin.
const NOW = new Date('2026-05-04T10:00:00Z');
const PAST = '2026-05-01T23:59:59.999Z';
const FUTURE = '2027-06-30T23:59:59.999Z';

type RoleOverrides = Partial<Omit<CompiledRole, 'activation' | 'eligible'>> & {
  eligible?: Partial<CompiledRole['eligible']>;
  activation?: Partial<CompiledRole['activation']>;
};

function role(o: RoleOverrides = {}): CompiledRole {
  return {
    name: o.name ?? 'ai-cluster-admin',
    description: o.description ?? 'GPU cluster admin',
    eligible: { groups: ['ml-platform'], until: null, ...o.eligible },
    activation: {
      maxDuration: 7200,
      defaultDuration: 3600,
      userVerification: 'required',
      justification: 'required',
      ticket: { required: false, pattern: null },
      approval: null,
      windows: [],
      maxActive: null,
      ...o.activation,
    },
    grants: o.grants ?? { kubernetes: [{ cluster: 'gpu-train', groups: ['pim:admin'] }], aws: [], ssh: [] },
  };
}

const alice: Subject = { email: 'alice@acme.example', groups: ['ml-platform', 'data-eng'], assignments: [] };
const carol: Subject = { email: 'carol@contractor.example', groups: [], assignments: [] };

function run(o: Partial<DecideInput> & { role?: CompiledRole } = {}): Decision {
  return decide({ subject: alice, role: role(), now: NOW, mode: 'check', ...o });
}
const codes = (d: Decision): ReasonCode[] => d.reasons.map((r) => r.code);
const reason = (d: Decision, code: ReasonCode) => {
  const r = d.reasons.find((x) => x.code === code);
  assert.ok(r, `expected reason ${code}; got ${codes(d).join(', ') || 'none'}`);
  assert.ok(!r.message.includes('\n') && r.message.length > 0, 'a reason is one non-empty line');
  return r;
};

test('a member of an eligible group may activate with no reasons', () => {
  const d = run();
  assert.equal(d.allowed, true);
  assert.deepEqual(d.reasons, []);
  assert.equal(d.role, 'ai-cluster-admin');
});

test('someone in none of the groups and without an assignment is not-eligible, and nothing else is judged', () => {
  const d = run({
    subject: carol,
    role: role({ activation: { windows: [{ days: ['sat'], from: '08:00', to: '09:00', tz: 'UTC' }] } }),
    ask: { duration: 99_999 },
  });
  assert.equal(d.allowed, false);
  assert.deepEqual(codes(d), ['not-eligible']);
  const r = reason(d, 'not-eligible');
  assert.equal(r.blocking, true);
  assert.match(r.message, /ml-platform/);
  assert.equal(d.requirements.nextWindowOpens, null, 'windows are not evaluated for the ineligible');
});

test('a direct assignment makes someone eligible without any group', () => {
  const d = run({ subject: { ...carol, assignments: [{ role: 'ai-cluster-admin', until: FUTURE }] } });
  assert.equal(d.allowed, true);
  assert.equal(d.requirements.eligibleUntil, FUTURE);
});

test('an assignment for another role does not count', () => {
  const d = run({ subject: { ...carol, assignments: [{ role: 'other-role', until: null }] } });
  assert.deepEqual(codes(d), ['not-eligible']);
});

test('eligibility-expired when the role-level until has passed for a group member', () => {
  const d = run({ role: role({ eligible: { until: PAST } }) });
  assert.equal(d.allowed, false);
  const r = reason(d, 'eligibility-expired');
  assert.equal(r.blocking, true);
  assert.deepEqual(r.detail, { until: PAST });
  assert.equal(d.requirements.eligibleUntil, PAST);
});

test('eligibility-expired is decided at the until instant itself', () => {
  const until = NOW.toISOString();
  assert.deepEqual(codes(run({ role: role({ eligible: { until } }) })), ['eligibility-expired']);
  const justBefore = new Date(NOW.getTime() - 1);
  assert.equal(run({ role: role({ eligible: { until } }), now: justBefore }).allowed, true);
});

test('eligibility-expired when the assignment until has passed', () => {
  const d = run({ subject: { ...carol, assignments: [{ role: 'ai-cluster-admin', until: PAST }] } });
  assert.deepEqual(reason(d, 'eligibility-expired').detail, { until: PAST });
});

test('an assignment is also bounded by the role-level until', () => {
  const d = run({
    subject: { ...carol, assignments: [{ role: 'ai-cluster-admin', until: FUTURE }] },
    role: role({ eligible: { until: PAST } }),
  });
  assert.deepEqual(codes(d), ['eligibility-expired']);
});

test('an expired assignment does not matter while group eligibility is still valid', () => {
  const d = run({ subject: { ...alice, assignments: [{ role: 'ai-cluster-admin', until: PAST }] } });
  assert.equal(d.allowed, true);
  assert.equal(d.requirements.eligibleUntil, null, 'the group path has no end');
});

test('eligibleUntil is the sooner of the assignment and the role until', () => {
  const d = run({
    subject: { ...carol, assignments: [{ role: 'ai-cluster-admin', until: '2027-03-31T23:59:59.999Z' }] },
    role: role({ eligible: { until: FUTURE } }),
  });
  assert.equal(d.allowed, true);
  assert.equal(d.requirements.eligibleUntil, '2027-03-31T23:59:59.999Z');
});

test('policy-expired blocks every role and comes first', () => {
  const policyExpires = new Date(NOW.getTime() - 1000);
  const eligible = run({ policyExpires });
  assert.equal(eligible.allowed, false);
  assert.equal(eligible.reasons[0]!.code, 'policy-expired');
  assert.equal(reason(eligible, 'policy-expired').blocking, true);
  const ineligible = run({ subject: carol, policyExpires });
  assert.deepEqual(codes(ineligible), ['policy-expired', 'not-eligible']);
  const expired = run({ role: role({ eligible: { until: PAST } }), policyExpires });
  assert.deepEqual(codes(expired), ['policy-expired', 'eligibility-expired']);
});

test('policy-expired applies at the expiry instant, not before', () => {
  assert.deepEqual(codes(run({ policyExpires: NOW })), ['policy-expired']);
  assert.deepEqual(codes(run({ policyExpires: new Date(NOW.getTime() + 1) })), []);
  assert.deepEqual(codes(run({ policyExpires: null })), []);
});

test('outside-window names the next opening in the message, the detail and the requirements', () => {
  const windows = [{ days: ['tue' as const], from: '08:00', to: '18:00', tz: 'Europe/Berlin' }];
  const d = run({ role: role({ activation: { windows } }) });
  assert.equal(d.allowed, false);
  const r = reason(d, 'outside-window');
  assert.equal(r.blocking, true);
  assert.deepEqual(r.detail, { next: '2026-05-05T06:00:00.000Z' });
  assert.match(r.message, /next opens Tue 08:00 Europe\/Berlin/);
  assert.equal(d.requirements.nextWindowOpens, '2026-05-05T06:00:00.000Z');
});

test('inside a window there is no window reason', () => {
  const windows = [{ days: ['mon' as const], from: '08:00', to: '18:00', tz: 'Europe/Berlin' }];
  const d = run({ role: role({ activation: { windows } }) });
  assert.equal(d.allowed, true);
  assert.equal(d.requirements.nextWindowOpens, null);
});

test('duration-exceeds-max when the asked duration is above the maximum', () => {
  const d = run({ ask: { duration: 3 * 3600 } });
  assert.equal(d.allowed, false);
  const r = reason(d, 'duration-exceeds-max');
  assert.equal(r.blocking, true);
  assert.equal(r.detail?.max, '2h');
  assert.match(r.message, /3h .*maximum of 2h/);
  assert.equal(run({ ask: { duration: 7200 } }).allowed, true, 'exactly the maximum is fine');
});

test('the default duration is judged when none is asked for', () => {
  const d = run({ role: role({ activation: { defaultDuration: 3 * 3600 } }) });
  assert.deepEqual(codes(d), ['duration-exceeds-max']);
});

test('justification-required blocks a request without one, or with only spaces', () => {
  for (const justification of [undefined, '', '   \n']) {
    const d = run({ mode: 'request', ask: { justification } });
    assert.equal(d.allowed, false);
    assert.equal(reason(d, 'justification-required').blocking, true);
  }
  assert.equal(run({ mode: 'request', ask: { justification: 'INC-42: node drain stuck' } }).allowed, true);
});

test('justification-required is never raised in check mode, only shown as a requirement', () => {
  const d = run({ mode: 'check', ask: { justification: '  ' } });
  assert.deepEqual(codes(d), []);
  assert.equal(d.requirements.justification, 'required');
});

test('an optional justification may be left out of a request', () => {
  const d = run({ mode: 'request', role: role({ activation: { justification: 'optional' } }) });
  assert.equal(d.allowed, true);
});

const TICKETED = role({ activation: { ticket: { required: true, pattern: '^INC-[0-9]+$' } } });

test('ticket-required blocks a request without a ticket', () => {
  const d = run({ mode: 'request', role: TICKETED, ask: { justification: 'why', ticket: ' ' } });
  assert.equal(d.allowed, false);
  const r = reason(d, 'ticket-required');
  assert.equal(r.blocking, true);
  assert.match(r.message, /\^INC-\[0-9\]\+\$/);
  assert.equal(run({ mode: 'request', role: TICKETED, ask: { justification: 'why', ticket: 'INC-42' } }).allowed, true);
});

test('ticket-required is not raised in check mode', () => {
  const d = run({ mode: 'check', role: TICKETED });
  assert.deepEqual(codes(d), []);
  assert.deepEqual(d.requirements.ticket, { required: true, pattern: '^INC-[0-9]+$' });
});

test('ticket-invalid in both modes when a given ticket does not match the pattern', () => {
  for (const mode of ['check', 'request'] as const) {
    const d = run({ mode, role: TICKETED, ask: { justification: 'why', ticket: 'JIRA-42' } });
    assert.equal(d.allowed, false, mode);
    const r = reason(d, 'ticket-invalid');
    assert.equal(r.blocking, true);
    assert.deepEqual(r.detail, { pattern: '^INC-[0-9]+$' });
    assert.match(r.message, /"JIRA-42" does not match/);
  }
});

test('ticket-invalid for tickets that are too long or contain control characters, even without a pattern', () => {
  const free = role({ activation: { ticket: { required: false, pattern: null } } });
  assert.deepEqual(codes(run({ role: free, ask: { ticket: 'X'.repeat(129) } })), ['ticket-invalid']);
  assert.deepEqual(codes(run({ role: free, ask: { ticket: 'X'.repeat(128) } })), []);
  assert.deepEqual(codes(run({ role: free, ask: { ticket: 'INC-1\u001b[2J' } })), ['ticket-invalid']);
  assert.deepEqual(codes(run({ role: TICKETED, ask: { ticket: 'INC-1\n' } })), ['ticket-invalid']);
});

test('approval-required is a notice: it does not block', () => {
  const approval = { approvers: { groups: ['ml-leads'], users: [] }, count: 1, selfApproval: false };
  const d = run({ role: role({ activation: { approval } }) });
  assert.equal(d.allowed, true);
  const r = reason(d, 'approval-required');
  assert.equal(r.blocking, false);
  assert.equal(r.message, 'needs approval by 1 of ml-leads');
  assert.deepEqual(r.detail, { count: 1, groups: ['ml-leads'], users: [] });
  assert.deepEqual(d.requirements.approval, approval);
});

test('approval-required tells an approver that someone else must approve', () => {
  const approval = { approvers: { groups: ['ml-leads'], users: ['dana@acme.example'] }, count: 2, selfApproval: false };
  const bob: Subject = { email: 'bob@acme.example', groups: ['ml-platform', 'ml-leads'], assignments: [] };
  const r = reason(run({ subject: bob, role: role({ activation: { approval } }) }), 'approval-required');
  assert.equal(r.message, 'needs approval by 2 of ml-leads, dana@acme.example (someone other than you)');
});

test('max-active-reached when the subject already holds the maximum', () => {
  const limited = role({ activation: { maxActive: 1 } });
  const d = run({ role: limited, activeCount: 1 });
  assert.equal(d.allowed, false);
  assert.equal(reason(d, 'max-active-reached').blocking, true);
  assert.equal(run({ role: limited, activeCount: 0 }).allowed, true);
  assert.equal(run({ role: limited }).allowed, true, 'no count given = none active');
  assert.equal(run({ activeCount: 50 }).allowed, true, 'no maxActive = no limit');
});

test('several blocking reasons are all reported, in a stable order', () => {
  const d = run({
    mode: 'request',
    role: role({
      activation: {
        ticket: { required: true, pattern: '^INC-[0-9]+$' },
        maxActive: 1,
        approval: { approvers: { groups: ['ml-leads'], users: [] }, count: 1, selfApproval: false },
        windows: [{ days: ['sun'], from: '00:00', to: '01:00', tz: 'UTC' }],
      },
    }),
    ask: { duration: 99_999 },
    activeCount: 1,
    policyExpires: NOW,
  });
  assert.deepEqual(codes(d), [
    'policy-expired',
    'outside-window',
    'duration-exceeds-max',
    'justification-required',
    'ticket-required',
    'max-active-reached',
    'approval-required',
  ]);
});

test('requirements are filled from the role', () => {
  const d = run({ role: role({ activation: { userVerification: 'preferred', maxActive: 2 } }) });
  assert.deepEqual(d.requirements, {
    maxDuration: 7200,
    defaultDuration: 3600,
    justification: 'required',
    ticket: { required: false, pattern: null },
    approval: null,
    userVerification: 'preferred',
    windows: [],
    nextWindowOpens: null,
    maxActive: 2,
    eligibleUntil: null,
  });
});

// --- decideAll ---------------------------------------------------------------------------------

const ROLES = {
  schema: 'pim-roles/v1' as const,
  clusters: [],
  roles: [
    role({ name: 'a-platform', eligible: { groups: ['ml-platform'] } }),
    role({ name: 'b-leads', eligible: { groups: ['ml-leads'] } }),
    role({ name: 'c-direct', eligible: { groups: [] } }),
    role({ name: 'd-data', eligible: { groups: ['data-eng', 'ml-platform'] } }),
    role({ name: 'e-expired', eligible: { groups: ['data-eng'], until: PAST } }),
  ],
};

test('decideAll decides the roles that name the subject, in policy order, and only counts the rest', () => {
  const subject: Subject = {
    ...alice,
    assignments: [
      { role: 'c-direct', until: null },
      { role: 'gone', until: null },
    ],
  };
  const { relevant, otherCount } = decideAll(subject, indexRoles(ROLES), NOW);
  assert.deepEqual(
    relevant.map((d) => d.role),
    ['a-platform', 'c-direct', 'd-data', 'e-expired'],
  );
  assert.equal(otherCount, 1);
  assert.deepEqual(
    codes(relevant[3]!),
    ['eligibility-expired'],
    'blocked roles that name the subject are still relevant',
  );
});

test('decideAll with all decides every role', () => {
  const { relevant, otherCount } = decideAll(alice, indexRoles(ROLES), NOW, { all: true });
  assert.equal(relevant.length, 5);
  assert.equal(otherCount, 0);
  assert.deepEqual(codes(relevant.find((d) => d.role === 'b-leads')!), ['not-eligible']);
});

test('decideAll passes the options through: only, ask, mode, policy expiry and active counts', () => {
  const index = indexRoles(ROLES);
  const one = decideAll(alice, index, NOW, { all: true, only: 'a-platform', ask: { duration: 99_999 } });
  assert.deepEqual(
    one.relevant.map((d) => [d.role, codes(d)]),
    [['a-platform', ['duration-exceeds-max']]],
  );
  assert.deepEqual(decideAll(alice, index, NOW, { only: 'b-leads' }).relevant, []);
  assert.deepEqual(decideAll(alice, index, NOW, { only: 'no-such-role' }).relevant, []);
  const req = decideAll(alice, index, NOW, { mode: 'request', only: 'a-platform' });
  assert.deepEqual(codes(req.relevant[0]!), ['justification-required']);
  const expired = decideAll(alice, index, NOW, { policyExpires: NOW });
  assert.ok(expired.relevant.every((d) => d.reasons[0]!.code === 'policy-expired' && !d.allowed));
  const limitedIndex = indexRoles([role({ name: 'x', activation: { maxActive: 1 } })]);
  assert.deepEqual(codes(decideAll(alice, limitedIndex, NOW, { activeCounts: new Map([['x', 1]]) }).relevant[0]!), [
    'max-active-reached',
  ]);
  assert.deepEqual(codes(decideAll(alice, limitedIndex, NOW, { activeCounts: { x: 1 } }).relevant[0]!), [
    'max-active-reached',
  ]);
});

test('indexRoles maps names and groups to roles', () => {
  const index = indexRoles(ROLES);
  assert.equal(index.byName.get('d-data')!.name, 'd-data');
  assert.deepEqual(index.byGroup.get('ml-platform'), [0, 3]);
  assert.deepEqual(index.byGroup.get('data-eng'), [3, 4]);
});

test('decideAll over 5,000 roles decides the 50 that name the user and only counts the rest', () => {
  // (its speed is measured by `npm run bench -- eligibility`, not asserted here)
  const many = Array.from({ length: 5000 }, (_, i) =>
    role({
      name: `role-${i}`,
      eligible: { groups: [i % 100 === 0 ? 'ml-platform' : `team-${i % 250}`] },
      activation: {
        ticket: { required: true, pattern: '^INC-[0-9]+$' },
        windows:
          i % 200 === 0
            ? [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00', tz: 'Europe/Berlin' }]
            : [],
      },
    }),
  );
  const index = indexRoles(many);
  const r = decideAll(alice, index, NOW, { ask: { ticket: 'INC-7' } });
  assert.equal(r.relevant.length, 50);
  assert.equal(r.otherCount, 4950);
  assert.ok(r.relevant.every((d) => d.role.startsWith('role-') && Number(d.role.slice(5)) % 100 === 0));
});
