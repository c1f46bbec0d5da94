// The audit journal with real processes: alice enrols with a software security key and activates a
// role; her agent's journal holds the enrolment, the key, the policy, the request and — with the
// activation — the request bytes, nonce and assertion anyone can re-verify. `pim audit verify`
// checks the chain, `pim audit sync` sends it to the control plane (which re-verifies it), and an
// edit made to agent.db behind the agent's back is named.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { activationChallenge, toBase64Url, type ActivationRequest } from '../../shared/activation';
import type { ChainedRecord } from '../../shared/audit';
import { PIM, PIM_SERVER, run, start } from '../helpers/procs';
import { cliWorld, ENG_POLICY } from '../helpers/cli-world';
import { touch } from '../helpers/ceremony';

const env = { PIM_KEYSTORE: 'file' };

async function setup(users: [string, string][]) {
  const { repo, people } = await cliWorld(ENG_POLICY, users, env);
  return { repo, people };
}

function journal(p: { pim: (...a: string[]) => ReturnType<typeof run> }, ...args: string[]): ChainedRecord[] {
  const r = p.pim('audit', 'list', '--json', ...args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ChainedRecord[];
}

/** The assertion's clientDataJSON challenge is the one bound to (nonce, request): the key touch is
 *  evidence for exactly these request bytes. */
function assertEvidence(data: Record<string, unknown>): void {
  assert.equal(typeof data.request, 'string', 'the request bytes are in the record');
  assert.match(String(data.nonce), /^[0-9a-f]{64}$/);
  const assertion = data.assertion as { response: { clientDataJSON: string } };
  assert.ok(assertion?.response?.clientDataJSON, 'the WebAuthn assertion is in the record');
  const client = JSON.parse(Buffer.from(assertion.response.clientDataJSON, 'base64url').toString('utf8')) as {
    type: string;
    challenge: string;
  };
  assert.equal(client.type, 'webauthn.get');
  assert.equal(
    client.challenge,
    toBase64Url(activationChallenge(String(data.nonce), JSON.parse(String(data.request)) as ActivationRequest)),
  );
}

test('enrol, activate with a key touch: the journal records it all, verifies, syncs, and names an edit', async (t) => {
  const { repo, people } = await setup([['alice@acme.example', '']]);
  const alice = people['alice@acme.example']!;
  const act = await start(
    PIM,
    ['--home', alice.home, 'activate', 'readonly', '--duration', '1h', '--reason', 'INC-7', '--no-open'],
    /sign this request: (\S+)/,
    env,
  );
  assert.equal((await touch(alice.key, act.match[1]!)).value?.state, 'active');
  assert.equal(await act.exited(), 0, act.output());

  const records = journal(alice).filter((r) => r.record.type !== 'sync-failed');
  assert.deepEqual(
    records.map((r) => r.record.type),
    ['enrolled', 'keystore-changed', 'policy-refreshed', 'activation-requested', 'activation-active'],
  );
  const [enrolled, keystore, policy, requested, active] = records.map((r) => r.record);
  assert.equal(enrolled!.seq, 1, 'the chain starts at enrolment');
  const device = enrolled!.device;
  assert.deepEqual(enrolled!.data, { server: enrolled!.data.server, device, user: 'alice@acme.example' });
  assert.equal(keystore!.data.kind, 'device-key-created');
  assert.equal(keystore!.data.keystore, 'file');
  assert.equal(policy!.data.version, 1);
  assert.equal(requested!.data.role, 'readonly');
  assert.equal(requested!.data.duration, 3600);
  assert.match(String(requested!.data.requestSha256), /^[0-9a-f]{64}$/);
  assert.equal(active!.data.activation, requested!.data.activation);
  assert.equal(active!.data.state, 'active');
  assert.equal(active!.data.requestSha256, requested!.data.requestSha256);
  assertEvidence(active!.data);
  assert.equal((JSON.parse(String(active!.data.request)) as { device: string }).device, device);

  assert.deepEqual(
    journal(alice, '--role', 'readonly').map((r) => r.record.type),
    ['activation-requested', 'activation-active'],
  );
  const text = alice.pim('audit', 'list');
  assert.match(text.stdout, /activation-active\s+readonly \(\S+\) until .*\[key touch recorded\]/);

  const verify = alice.pim('audit', 'verify');
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /audit journal intact: \d+ record\(s\)/);

  const last = journal(alice).at(-1)!.record.seq;
  const sync = alice.pim('audit', 'sync');
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, new RegExp(`^synced \\d+ records; server holds up to seq ${last}\\n$`));
  assert.match(alice.pim('audit', 'verify').stdout, new RegExp(`the control plane holds up to seq ${last}`));

  // the control plane re-verifies what it received
  const server = run(PIM_SERVER, ['audit', 'verify', repo]);
  if (server.code === 2 && /unknown|usage/i.test(server.stderr)) {
    // `pim-server audit verify` is built in parallel with this; until it exists this check is skipped
    await t.annotate('pim-server audit verify is not available: server-side verification skipped');
  } else {
    assert.equal(server.code, 0, server.stdout + server.stderr);
    assert.match(server.stdout, new RegExp(`device ${device}: ${last} records, chain intact`));
  }

  // someone edits agent.db: the role in the request record becomes admin
  const db = new Database(path.join(alice.home, 'agent.db'));
  try {
    db.exec('DROP TRIGGER audit_append_only');
    db.prepare(
      `UPDATE audit SET record_json = replace(record_json, '"role":"readonly"', '"role":"admin"') WHERE seq = ?`,
    ).run(requested!.seq);
  } finally {
    db.close();
  }
  const broken = alice.pim('audit', 'verify');
  assert.equal(broken.code, 1);
  assert.equal(broken.stdout, '');
  assert.match(broken.stderr, new RegExp(`record ${requested!.seq} was altered \\(broken link\\)`));
});

test('an approval: the requester journals the signed request while it waits, the approver journals the approval given', async () => {
  const { people } = await setup([
    ['alice@acme.example', ''],
    ['bob@acme.example', 'eng,leads'],
  ]);
  const alice = people['alice@acme.example']!;
  const bob = people['bob@acme.example']!;
  const act = await start(
    PIM,
    ['--home', alice.home, 'activate', 'admin', '--reason', 'GPU node 17 hangs', '--wait', '--no-open'],
    /sign this request: (\S+)/,
    env,
  );
  assert.equal((await touch(alice.key, act.match[1]!)).value?.state, 'pending-approval');
  let pending: { id: string }[] = [];
  for (let i = 0; i < 50 && pending.length === 0; i++)
    pending = JSON.parse(bob.pim('approvals', '--json').stdout) as typeof pending;
  const approve = await start(
    PIM,
    ['--home', bob.home, 'approve', pending[0]!.id, '--reason', 'go ahead', '--no-open'],
    /sign your decision: (\S+)/,
    env,
  );
  assert.equal((await touch(bob.key, approve.match[1]!)).value?.state, 'active');
  assert.equal(await approve.exited(), 0, approve.output());
  assert.equal(await act.exited(), 0, act.output());

  const given = journal(bob, '--type', 'approval-given');
  assert.equal(given.length, 1);
  assert.deepEqual(
    { ...given[0]!.record.data, requestSha256: undefined },
    {
      activation: pending[0]!.id,
      role: 'admin',
      requester: 'alice@acme.example',
      requestSha256: undefined,
      decision: 'approve',
      reason: 'go ahead',
    },
  );
  assert.equal(
    journal(bob, '--role', 'admin').filter((r) => r.record.type.startsWith('activation-')).length,
    0,
    "bob's journal does not mirror alice's activation",
  );

  const mine = journal(alice, '--role', 'admin');
  assert.deepEqual(
    mine.map((r) => r.record.type),
    ['activation-requested', 'activation-pending-approval', 'activation-active'],
  );
  assertEvidence(mine[1]!.record.data);
  assertEvidence(mine[2]!.record.data);
  const approvals = mine[2]!.record.data.approvals as { approver: string; decision: string }[];
  assert.deepEqual(
    approvals.map((a) => [a.approver, a.decision]),
    [['bob@acme.example', 'approve']],
  );
  for (const p of [alice, bob]) assert.equal(p.pim('audit', 'verify').code, 0);
});
