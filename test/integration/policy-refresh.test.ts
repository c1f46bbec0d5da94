// Refreshing a verified policy: what changes reaches the agent's answers, and nothing else moves.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { publishPolicy } from '../../server/repo/repository';
import { connectedAgent } from '../helpers/agent';
import { makeRepo, serveRepo } from '../helpers/repo';

const policy = (aliceGroups: string) => `
roles:
  - name: ops-admin
    eligible: { groups: [ops] }
    activation: { maxDuration: 2h }
  - name: db-admin
    eligible: { groups: [dba] }
    activation: { maxDuration: 1h }
users:
  - { email: alice@acme.example, groups: [${aliceGroups}] }
  - { email: bob@acme.example, groups: [dba] }
`;

const allowed = (a: Awaited<ReturnType<typeof connectedAgent>>) =>
  a
    .state()
    .roles.filter((r) => r.decision.allowed)
    .map((r) => r.name);

test('a republished policy in which only my groups changed changes my roles', async () => {
  const { dir, trustRoot } = makeRepo({ policy: policy('ops') });
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await agent.refresh();
  assert.deepEqual(allowed(agent), ['ops-admin']);
  assert.equal(agent.state().otherRoles, 1);
  const rolesHashBefore = agent.store.policySummary()!.rolesSha256;

  publishPolicy(dir, policy('ops, dba'));
  const r = await agent.refresh();
  assert.equal(r.version, 2);
  assert.equal(r.changed, true);
  assert.equal(agent.store.policySummary()!.rolesSha256, rolesHashBefore, 'the roles file itself did not change');
  assert.deepEqual(allowed(agent), ['db-admin', 'ops-admin']);
  assert.equal(agent.state().otherRoles, 0);
  assert.deepEqual(agent.state().user?.groups, ['ops', 'dba']);
});

test('a refresh with nothing new keeps the same version and answers', async () => {
  const { dir, trustRoot } = makeRepo({ policy: policy('ops') });
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await agent.refresh();
  const before = agent.state();
  const r = await agent.refresh();
  assert.equal(r.changed, false);
  assert.equal(r.version, 1);
  assert.deepEqual(agent.state().roles, before.roles);
});

test('a user the policy does not name is connected but eligible for nothing', async () => {
  const { dir, trustRoot } = makeRepo({ policy: policy('ops') });
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot, 'stranger@acme.example');
  await agent.refresh();
  const s = agent.state();
  assert.equal(s.connection, 'online');
  assert.deepEqual(s.roles, []);
  assert.equal(s.otherRoles, 2);
  const d = agent.check('ops-admin');
  assert.equal(d.allowed, false);
  assert.equal(d.reasons[0]?.code, 'not-eligible');
});
