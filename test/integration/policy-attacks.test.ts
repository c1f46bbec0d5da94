// The agent's policy verifier against the attacks TUF exists for. Each attack is served by a
// real `pim-server serve` over HTTP; after each one the cached policy must be exactly as before.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { MetadataKind } from '@tufjs/models';
import { RefreshError } from '../../agent/policy/errors';
import { generateKey, loadKeys } from '../../server/repo/keys';
import { rootSigned, signedEnvelope } from '../../server/repo/metadata';
import { publishPolicy, readState, rotateRoot, writeMetadata } from '../../server/repo/repository';
import { connectedAgent, newAgent } from '../helpers/agent';
import { EXAMPLE_POLICY, makeRepo, restoreMetadata, serveRepo, snapshotMetadata } from '../helpers/repo';

async function refused(p: Promise<unknown>, code: string): Promise<RefreshError> {
  const e = await p.then(
    () => assert.fail(`refresh should have been refused with ${code}`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof RefreshError, `expected a RefreshError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return e;
}

function mdFile(dir: string, name: string) {
  return path.join(dir, 'repo', 'metadata', name);
}

/** A TUF metadata file as it lies in the repository: the signed part and its signatures. */
type Envelope = {
  signed: Record<string, unknown> & { version: number };
  signatures: { keyid: string; sig: string }[];
};
const readEnvelope = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Envelope;

test('rollback: an older policy served after a newer one is refused, and the newer copy stays', async () => {
  const { dir, trustRoot } = makeRepo();
  const v1 = snapshotMetadata(dir);
  publishPolicy(dir, EXAMPLE_POLICY);
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  assert.equal((await agent.refresh()).version, 2);
  restoreMetadata(dir, v1);
  await refused(agent.refresh(), 'rollback');
  assert.equal(agent.store.policyVersion(), 2);
  assert.equal(agent.state().connection, 'rejected');
});

test('rollback: also refused after the agent restarts', async () => {
  const { dir, trustRoot } = makeRepo();
  const v1 = snapshotMetadata(dir);
  publishPolicy(dir, EXAMPLE_POLICY);
  const srv = await serveRepo(dir);
  const first = await connectedAgent(srv.url, trustRoot);
  await first.refresh();
  const home = first.home;
  first.close();
  restoreMetadata(dir, v1);
  const restarted = newAgent(home);
  await refused(restarted.refresh(), 'rollback');
  assert.equal(restarted.store.policyVersion(), 2);
  assert.ok(
    restarted.state().roles.some((r) => r.decision.allowed),
    'the cached v2 still answers',
  );
});

test('freeze: a timestamp past its expiry is refused (a stalled or frozen mirror)', async () => {
  const twoDaysAgo = new Date(Date.now() - 2 * 86400_000);
  const { dir, trustRoot } = makeRepo({ timestampTtlSeconds: 86400, now: twoDaysAgo });
  const srv = await serveRepo(dir, { frozen: true });
  const agent = await connectedAgent(srv.url, trustRoot);
  await refused(agent.refresh(), 'freeze');
  assert.equal(agent.store.policy(), null);
});

test('freeze: past the policy expiry every role is ineligible with policy-expired, offline too', async () => {
  const { dir, trustRoot } = makeRepo();
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  const r = await agent.refresh();
  const home = agent.home;
  agent.close();
  const later = newAgent(home, () => new Date(Date.parse(r.expires) + 1000));
  const s = later.state();
  assert.ok(s.roles.length > 0);
  for (const role of s.roles) {
    assert.equal(role.decision.allowed, false, role.name);
    assert.equal(role.decision.reasons[0]?.code, 'policy-expired', role.name);
  }
});

test('tampered target bytes are refused', async () => {
  const { dir, trustRoot } = makeRepo();
  const rolesDir = path.join(dir, 'repo', 'targets', 'policy');
  const file = path.join(rolesDir, fs.readdirSync(rolesDir)[0]!);
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace('"maxDuration":7200', '"maxDuration":72000'));
  assert.notEqual(fs.readFileSync(file, 'utf8'), text, 'the test changed the bytes');
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await refused(agent.refresh(), 'tampered');
  assert.equal(agent.store.policy(), null);
});

test('targets signed by an unknown key are refused', async () => {
  const { dir, trustRoot } = makeRepo();
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await agent.refresh();
  publishPolicy(dir, EXAMPLE_POLICY);
  const v = readState(dir).targetsVersion;
  const md = readEnvelope(mdFile(dir, `${v}.targets.json`));
  const intruder = generateKey();
  md.signatures = [];
  writeMetadata(dir, `${v}.targets.json`, signedEnvelope(MetadataKind.Targets, md.signed, [intruder]));
  await refused(agent.refresh(), 'bad-signature');
  assert.equal(agent.store.policyVersion(), 1);
});

/** A root v2 whose targets role needs 2 signatures but lists one public key under two key ids. */
function rootWithTwinKeyIds(dir: string): void {
  const keys = loadKeys(dir);
  const st = readState(dir);
  const byRole = (role: string) => [...keys.values()].filter((k) => k.role === role);
  const targetsKey = byRole('targets')[0]!;
  const twin = {
    ...targetsKey,
    keyid: crypto
      .createHash('sha256')
      .update('twin' + targetsKey.keyid)
      .digest('hex'),
  };
  const rootKeys = byRole('root');
  const all = [...rootKeys, targetsKey, twin, ...byRole('snapshot'), ...byRole('timestamp')];
  const roles = { ...st.roles, targets: { keyids: [targetsKey.keyid, twin.keyid], threshold: 2 } };
  writeMetadata(
    dir,
    '2.root.json',
    signedEnvelope(
      MetadataKind.Root,
      rootSigned({ version: 2, expires: new Date(Date.now() + 86400_000 * 30), keys: all, roles }),
      rootKeys,
    ),
  );
  // targets signed "twice": the same signature filed under both key ids
  const v = st.targetsVersion;
  const md = readEnvelope(mdFile(dir, `${v}.targets.json`));
  md.signatures.push({ keyid: twin.keyid, sig: md.signatures[0]!.sig });
  writeMetadata(dir, `${v}.targets.json`, md);
}

test('threshold 2 met only by one key under two key ids is refused', async () => {
  const { dir, trustRoot } = makeRepo();
  rootWithTwinKeyIds(dir);
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await refused(agent.refresh(), 'duplicate-keys');
  assert.equal(agent.store.policy(), null);
});

test('threshold 2 met only by the same signature listed twice is refused', async () => {
  const { dir, trustRoot } = makeRepo();
  const keys = loadKeys(dir);
  const st = readState(dir);
  const rootKeys = [...keys.values()].filter((k) => k.role === 'root');
  const second = generateKey();
  const others = [...keys.values()].filter((k) => k.role !== 'root' && k.role !== 'bins');
  const roles = { ...st.roles, targets: { keyids: [st.roles.targets.keyids[0]!, second.keyid], threshold: 2 } };
  writeMetadata(
    dir,
    '2.root.json',
    signedEnvelope(
      MetadataKind.Root,
      rootSigned({
        version: 2,
        expires: new Date(Date.now() + 86400_000 * 30),
        keys: [...rootKeys, ...others, second],
        roles,
      }),
      rootKeys,
    ),
  );
  const v = st.targetsVersion;
  const md = readEnvelope(mdFile(dir, `${v}.targets.json`));
  md.signatures.push({ ...md.signatures[0]! });
  writeMetadata(dir, `${v}.targets.json`, md);
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await refused(agent.refresh(), 'bad-signature');
  assert.equal(agent.store.policy(), null);
});

test('root rotation 1 → 2 → 3 is followed by an agent that pinned root 1', async () => {
  const { dir, trustRoot } = makeRepo();
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await agent.refresh();
  rotateRoot(dir, { keys: 3, threshold: 2 });
  rotateRoot(dir, { keys: 1, threshold: 1 });
  publishPolicy(dir, EXAMPLE_POLICY);
  const r = await agent.refresh();
  assert.equal(r.version, 2);
  const trusted = readEnvelope(path.join(agent.home, 'tuf', 'metadata', 'root.json'));
  assert.equal(trusted.signed.version, 3);
});

test('a new root signed only by new keys is refused', async () => {
  const { dir, trustRoot } = makeRepo();
  const keys = loadKeys(dir);
  const st = readState(dir);
  const newRoot = generateKey();
  const others = [...keys.values()].filter((k) => k.role !== 'root' && k.role !== 'bins');
  const roles = { ...st.roles, root: { keyids: [newRoot.keyid], threshold: 1 } };
  writeMetadata(
    dir,
    '2.root.json',
    signedEnvelope(
      MetadataKind.Root,
      rootSigned({ version: 2, expires: new Date(Date.now() + 86400_000 * 30), keys: [newRoot, ...others], roles }),
      [newRoot],
    ),
  );
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await refused(agent.refresh(), 'bad-signature');
  const trusted = readEnvelope(path.join(agent.home, 'tuf', 'metadata', 'root.json'));
  assert.equal(trusted.signed.version, 1, 'the pinned root is still trusted');
});

test('mix-and-match: targets from another snapshot served under the current name are refused', async () => {
  const { dir, trustRoot } = makeRepo();
  publishPolicy(dir, EXAMPLE_POLICY);
  // version 2 is what the snapshot names; serve the old version 1 file in its place
  fs.copyFileSync(mdFile(dir, '1.targets.json'), mdFile(dir, '2.targets.json'));
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  await refused(agent.refresh(), 'mix-and-match');
  assert.equal(agent.store.policy(), null);
});
