import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../shared/canonical';
import { compilePolicy, subjectForEmail, subjectFromMember } from '../../shared/policy/compile';
import { decideAll, indexRoles } from '../../shared/policy/engine';
import { formatPolicyErrors, parsePolicyYaml } from '../../shared/policy/parse-yaml';
import type { PolicySource } from '../../shared/policy/schema';

function parse(text: string): PolicySource {
  const r = parsePolicyYaml(text);
  assert.ok(r.ok, r.ok ? '' : formatPolicyErrors(r.errors));
  return r.policy;
}

const POLICY = `
clusters:
  - { name: gpu-train, server: 'https://k8s.example:6443' }
users:
  - { email: zed@acme.example, groups: [ml-platform] }
  - { email: Alice@Acme.Example, groups: [ml-platform, data-eng] }
roles:
  - name: ai-cluster-admin
    eligible:
      groups: [ml-platform]
      users: [carol@contractor.example, { email: dave@acme.example, until: 2028-01-31 }]
      until: 2027-06-30
    activation:
      maxDuration: 2h
      approval: { approvers: { groups: [ml-leads], users: [bob@acme.example] } }
    grants:
      kubernetes: [{ cluster: gpu-train, groups: ['pim:admin'] }]
      aws: [{ roleArn: 'arn:aws:iam::123456789012:role/ml-admin' }]
  - name: reader
    eligible:
      users: [{ email: carol@contractor.example, until: 2026-12-31 }]
    activation: { maxDuration: 30m, justification: optional }
`;

test('individual users become assignments in their member file, groups stay in the role', () => {
  const { roles, members } = compilePolicy(parse(POLICY));
  const role = roles.roles[0]!;
  assert.deepEqual(role.eligible, { groups: ['ml-platform'], until: '2027-06-30T23:59:59.999Z' });
  assert.ok(!JSON.stringify(roles).includes('carol'), 'the roles file names no eligible user');
  const carol = members.find((m) => m.email === 'carol@contractor.example')!;
  assert.deepEqual(carol.groups, []);
  assert.deepEqual(carol.assignments, [
    { role: 'ai-cluster-admin', until: '2027-06-30T23:59:59.999Z' },
    { role: 'reader', until: '2026-12-31T23:59:59.999Z' },
  ]);
});

test("an assignment lasts until the sooner of the user's and the role's until", () => {
  const { members } = compilePolicy(parse(POLICY));
  const dave = members.find((m) => m.email === 'dave@acme.example')!;
  // dave's own until (2028-01-31) is later than the role's (2027-06-30): the role's wins.
  assert.deepEqual(dave.assignments, [{ role: 'ai-cluster-admin', until: '2027-06-30T23:59:59.999Z' }]);
  const carol = members.find((m) => m.email === 'carol@contractor.example')!;
  // reader has no role-level until: carol's own date applies.
  assert.equal(carol.assignments[1]!.until, '2026-12-31T23:59:59.999Z');
});

test('every user named anywhere gets a member file, sorted by e-mail', () => {
  const { members } = compilePolicy(parse(POLICY));
  assert.deepEqual(
    members.map((m) => m.email),
    ['alice@acme.example', 'bob@acme.example', 'carol@contractor.example', 'dave@acme.example', 'zed@acme.example'],
  );
  const bob = members.find((m) => m.email === 'bob@acme.example')!;
  assert.deepEqual(bob, { schema: 'pim-member/v1', email: 'bob@acme.example', groups: [], assignments: [] });
  assert.deepEqual(members[0]!.groups, ['ml-platform', 'data-eng']);
});

test('defaults are filled in and optional grant fields are left out, not undefined', () => {
  const { roles } = compilePolicy(parse(POLICY));
  const reader = roles.roles[1]!;
  assert.deepEqual(reader.activation, {
    maxDuration: 1800,
    defaultDuration: 1800, // min(1h, max)
    userVerification: 'required',
    justification: 'optional',
    ticket: { required: false, pattern: null },
    approval: null,
    windows: [],
    maxActive: null,
  });
  assert.deepEqual(reader.grants, { kubernetes: [], aws: [], ssh: [] });
  const admin = roles.roles[0]!;
  assert.equal(admin.activation.defaultDuration, 3600);
  assert.deepEqual(admin.activation.approval, {
    approvers: { groups: ['ml-leads'], users: ['bob@acme.example'] },
    count: 1,
    selfApproval: false,
  });
  assert.deepEqual(Object.keys(admin.grants.aws[0]!), ['roleArn']);
  assert.deepEqual(roles.clusters, [{ name: 'gpu-train', server: 'https://k8s.example:6443' }]);
  assert.equal(roles.schema, 'pim-roles/v1');
});

test('compiling the same policy twice gives byte-identical canonical JSON', () => {
  const a = compilePolicy(parse(POLICY));
  const b = compilePolicy(parse(POLICY));
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.deepEqual(a, b);
});

test('subjectFromMember carries groups and assignments and lower-cases the e-mail', () => {
  const s = subjectFromMember({
    schema: 'pim-member/v1',
    email: 'Carol@Contractor.Example',
    groups: ['g'],
    assignments: [{ role: 'reader', until: null }],
  });
  assert.deepEqual(s, {
    email: 'carol@contractor.example',
    groups: ['g'],
    assignments: [{ role: 'reader', until: null }],
  });
});

test('subjectForEmail finds a user case-insensitively and gives strangers nothing', () => {
  const compiled = compilePolicy(parse(POLICY));
  assert.deepEqual(subjectForEmail(compiled, ' ALICE@acme.example ').groups, ['ml-platform', 'data-eng']);
  assert.deepEqual(subjectForEmail(compiled, 'mallory@evil.example'), {
    email: 'mallory@evil.example',
    groups: [],
    assignments: [],
  });
});

test('in the example policy alice is eligible for at least three roles and not for at least one', () => {
  const compiled = compilePolicy(parse(readFileSync(join(__dirname, '..', '..', 'examples', 'policy.yaml'), 'utf8')));
  const alice = subjectForEmail(compiled, 'alice@acme.example');
  assert.deepEqual(alice.groups, ['ml-platform', 'data-eng']);
  const { relevant, otherCount } = decideAll(alice, indexRoles(compiled.roles), new Date('2026-05-04T10:00:00Z'));
  assert.ok(relevant.length >= 3, `alice is eligible for ${relevant.map((d) => d.role).join(', ')}`);
  assert.ok(otherCount >= 1);
  assert.ok(relevant.some((d) => d.role === 'ai-cluster-admin'));
  const carol = compiled.members.find((m) => m.email === 'carol@contractor.example')!;
  assert.deepEqual(
    carol.assignments.map((a) => a.role),
    ['contractor-gpu-debug'],
  );
  assert.equal(carol.assignments[0]!.until, '2027-03-31T23:59:59.999Z');
});

test('canonicalJson sorts keys, keeps arrays in order and refuses what JSON cannot hold', () => {
  assert.equal(
    canonicalJson({ b: 1, a: [3, 1, { d: null, c: 'x' }], u: undefined }),
    '{"a":[3,1,{"c":"x","d":null}],"b":1}',
  );
  assert.equal(canonicalJson(1e21), '1e+21');
  assert.throws(() => canonicalJson(undefined), /no JSON representation/);
  assert.throws(() => canonicalJson({ f: () => 1 }), /function/);
  assert.throws(() => canonicalJson({ n: Number.NaN }), /NaN/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /cycle/);
});
