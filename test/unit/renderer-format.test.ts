import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { RoleView } from '../../shared/api';
import {
  connectionView,
  formatDateTime,
  formatDays,
  formatDuration,
  formatRelative,
  otherRolesText,
  partitionRoles,
  policyLine,
  requirementChips,
  serverLabel,
  ticketHint,
} from '../../renderer/format';

type Requirements = RoleView['decision']['requirements'];

const base: Requirements = {
  maxDuration: 7200,
  defaultDuration: 3600,
  justification: 'optional',
  ticket: { required: false, pattern: null },
  approval: null,
  userVerification: 'preferred',
  windows: [],
  nextWindowOpens: null,
  maxActive: null,
  eligibleUntil: null,
};

test('durations read as compact hours and minutes', () => {
  assert.equal(formatDuration(5400), '1h30m');
  assert.equal(formatDuration(7200), '2h');
  assert.equal(formatDuration(900), '15m');
  assert.equal(formatDuration(90), '1m30s');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(86400 + 3600), '1d1h');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(-5), '0s');
  assert.equal(formatDuration(Number.NaN), '0s');
});

test('relative times say how long ago, in minutes, hours or days', () => {
  const now = '2025-11-24T10:00:00.000Z';
  assert.equal(formatRelative('2025-11-24T09:59:50.000Z', now), 'just now');
  assert.equal(formatRelative('2025-11-24T09:57:00.000Z', now), '3 min ago');
  assert.equal(formatRelative('2025-11-24T09:59:00.000Z', now), '1 min ago');
  assert.equal(formatRelative('2025-11-24T07:00:00.000Z', now), '3 h ago');
  assert.equal(formatRelative('2025-11-23T10:00:00.000Z', now), '1 day ago');
  assert.equal(formatRelative('2025-11-19T10:00:00.000Z', now), '5 days ago');
  assert.equal(formatRelative('2025-11-24T10:05:00.000Z', now), 'in 5 min');
  assert.equal(formatRelative('garbage', now), 'at an unknown time');
});

test('dates are formatted for people, in the zone asked for', () => {
  assert.equal(formatDateTime('2025-12-01T14:30:00.000Z', { locale: 'en-GB', timeZone: 'UTC' }), '1 Dec 2025, 14:30');
  assert.equal(
    formatDateTime('2025-12-01T14:30:00.000Z', { locale: 'en-GB', timeZone: 'Europe/Berlin' }),
    '1 Dec 2025, 15:30',
  );
  assert.equal(formatDateTime('not a date'), 'not a date');
});

test('weekday lists collapse runs into ranges', () => {
  assert.equal(formatDays(['mon', 'tue', 'wed', 'thu', 'fri']), 'Mon–Fri');
  assert.equal(formatDays(['fri', 'mon', 'wed', 'tue', 'thu']), 'Mon–Fri', 'order does not matter');
  assert.equal(formatDays(['mon', 'wed']), 'Mon, Wed');
  assert.equal(formatDays(['sat', 'sun']), 'Sat, Sun');
  assert.equal(formatDays(['mon', 'tue', 'wed', 'fri', 'sat', 'sun']), 'Mon–Wed, Fri–Sun');
  assert.equal(formatDays(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']), 'Daily');
});

test('ticket patterns are shown by their literal prefix', () => {
  assert.equal(ticketHint('^INC-[0-9]+$'), 'INC-…');
  assert.equal(ticketHint('^CHG\\d{6}$'), 'CHG…');
  assert.equal(ticketHint('^OPS\\-\\d+$'), 'OPS-…');
  assert.equal(ticketHint('^INC-?[0-9]+$'), 'INC…', 'an optional character is not part of the prefix');
  assert.equal(ticketHint('^RELEASE$'), 'RELEASE');
  assert.equal(ticketHint('^[A-Z]+-\\d+$'), '^[A-Z]+-\\d+$', 'no literal prefix: the pattern itself');
  assert.equal(ticketHint('^INC-\\d+|^CHG-\\d+$'), '^INC-\\d+|^CHG-\\d+$', 'alternatives have no single prefix');
});

test('a role with every requirement gets every chip, in order', () => {
  const chips = requirementChips({
    ...base,
    justification: 'required',
    ticket: { required: true, pattern: '^INC-[0-9]+$' },
    approval: { approvers: { groups: ['ml-leads'], users: [] }, count: 1, selfApproval: false },
    userVerification: 'required',
    windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00', tz: 'Europe/Berlin' }],
  });
  assert.deepEqual(
    chips.map((c) => c.label),
    [
      'max 2h',
      'justification',
      'ticket INC-…',
      'approval: 1 of ml-leads',
      'key + PIN',
      'Mon–Fri 08:00–18:00 Europe/Berlin',
    ],
  );
  assert.equal(
    chips.find((c) => c.key === 'ticket')?.title,
    'ticket matching ^INC-[0-9]+$',
    'the full pattern is in the tooltip',
  );
});

test('a role with no extra requirements shows only its maximum duration', () => {
  assert.deepEqual(
    requirementChips({ ...base, maxDuration: 5400 }).map((c) => c.label),
    ['max 1h30m'],
  );
});

test('optional tickets, named approvers, activation limits and eligibility end are spelled out', () => {
  const labels = requirementChips({
    ...base,
    ticket: { required: false, pattern: '^INC-[0-9]+$' },
    approval: { approvers: { groups: ['sec'], users: ['bob@acme.example'] }, count: 2, selfApproval: false },
    maxActive: 1,
    eligibleUntil: '2027-06-30T00:00:00.000Z',
  }).map((c) => c.label);
  assert.deepEqual(labels, [
    'max 2h',
    'ticket INC-… (optional)',
    'approval: 2 of sec, bob@acme.example',
    '1 active at most',
    'eligible until 2027-06-30',
  ]);
});

test('a required ticket without a pattern is just "ticket"; UV "preferred" adds no chip', () => {
  const labels = requirementChips({
    ...base,
    ticket: { required: true, pattern: null },
    userVerification: 'preferred',
  }).map((c) => c.label);
  assert.deepEqual(labels, ['max 2h', 'ticket']);
});

test('roles split into eligible (including those with only notices) and blocked, keeping their order', () => {
  const mk = (name: string, allowed: boolean, blocking?: boolean): RoleView => ({
    name,
    description: '',
    decision: {
      role: name,
      allowed,
      reasons: blocking === undefined ? [] : [{ code: 'x', blocking, message: 'm' }],
      requirements: base,
    },
  });
  const { eligible, blocked } = partitionRoles([
    mk('b', false, true),
    mk('a', true),
    mk('c', true, false),
    mk('d', false, true),
  ]);
  assert.deepEqual(
    eligible.map((r) => r.name),
    ['a', 'c'],
  );
  assert.deepEqual(
    blocked.map((r) => r.name),
    ['b', 'd'],
  );
});

test('the policy line shows version, freshness and how long it is valid offline', () => {
  const line = policyLine(
    {
      now: '2025-11-24T10:00:00.000Z',
      policy: { version: 7, verifiedAt: '2025-11-24T09:57:00.000Z', expires: '2025-12-01T14:30:00.000Z' },
    },
    { locale: 'en-GB', timeZone: 'UTC' },
  );
  assert.deepEqual(line, {
    kind: 'policy',
    version: 'Policy v7',
    verified: 'verified 3 min ago',
    validity: 'valid offline until 1 Dec 2025, 14:30',
    expired: false,
  });
});

test('an expired policy copy says expired, and no policy says so', () => {
  const line = policyLine(
    {
      now: '2025-12-02T00:00:00.000Z',
      policy: { version: 7, verifiedAt: '2025-11-24T09:57:00.000Z', expires: '2025-12-01T14:30:00.000Z' },
    },
    { locale: 'en-GB', timeZone: 'UTC' },
  );
  assert.equal(line.kind === 'policy' && line.validity, 'expired 1 Dec 2025, 14:30');
  assert.equal(line.kind === 'policy' && line.expired, true);
  assert.deepEqual(policyLine({ now: '2025-12-02T00:00:00.000Z', policy: null }), {
    kind: 'none',
    text: 'No verified policy yet',
  });
});

test('each connection state has its own words and tone', () => {
  assert.deepEqual(connectionView({ connection: 'online', lastError: null }), {
    connection: 'online',
    label: 'Online',
    tone: 'subtle',
  });
  assert.deepEqual(connectionView({ connection: 'offline', lastError: 'ECONNREFUSED' }), {
    connection: 'offline',
    label: 'Offline — showing the last verified policy',
    tone: 'warning',
  });
  assert.deepEqual(connectionView({ connection: 'rejected', lastError: 'signature threshold not met' }), {
    connection: 'rejected',
    label: 'Policy update rejected: signature threshold not met',
    tone: 'danger',
  });
  assert.equal(connectionView({ connection: 'unconfigured', lastError: null }).connection, 'unconfigured');
});

test('the other-roles line counts in words, singular and plural', () => {
  assert.equal(otherRolesText(1), '1 other role you are not eligible for');
  assert.equal(otherRolesText(4), '4 other roles you are not eligible for');
});

test('the server is shown by its host', () => {
  assert.equal(serverLabel('https://pim.acme.example:8443/base'), 'pim.acme.example:8443');
  assert.equal(serverLabel('not a url'), 'not a url');
  assert.equal(serverLabel(null), '');
});

test('active roles come first; the filter matches every word in name or description', async () => {
  const { activeFirst, filterRoles, FILTER_THRESHOLD } = await import('../../renderer/format');
  const roles = [
    { name: 'gpu-readonly', description: 'Look at jobs and logs' },
    { name: 'gpu-admin', description: 'Admin on the GPU training cluster' },
    { name: 'prod-admin', description: 'Production inference' },
  ];
  assert.deepEqual(
    activeFirst(roles, new Set(['prod-admin'])).map((r) => r.name),
    ['prod-admin', 'gpu-readonly', 'gpu-admin'],
  );
  assert.deepEqual(
    filterRoles(roles, 'ADMIN').map((r) => r.name),
    ['gpu-admin', 'prod-admin'],
  );
  assert.deepEqual(
    filterRoles(roles, 'gpu training').map((r) => r.name),
    ['gpu-admin'],
  );
  assert.deepEqual(
    filterRoles(roles, '  ').map((r) => r.name),
    roles.map((r) => r.name),
  );
  assert.equal(FILTER_THRESHOLD, 6, 'a handful');
});
