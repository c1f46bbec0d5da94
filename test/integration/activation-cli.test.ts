// `pim` and `pim-server` as people use them, with real processes: the admin adds users, each
// enrols with a link, alice activates roles, bob approves or denies — every key touch is made by a
// software security key on the ceremony the CLI printed (the browser's part, without a browser).
import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { AgentState } from '../../shared/api';
import { touch } from '../helpers/ceremony';
import { TICKET, cliWorld, decideWithKey, engPolicy } from '../helpers/cli-world';

const POLICY = engPolicy({ admin: [TICKET] });
/** What `pim status --json` prints. */
type StatusJson = Omit<AgentState, 'roles'> & { home: string; unenrolled: boolean | null; demo: boolean | null };

async function setup() {
  const { repo, server, people } = await cliWorld(POLICY, [
    ['alice@acme.example', ''],
    ['bob@acme.example', 'eng,leads'],
  ]);
  return { repo, server, alice: people['alice@acme.example']!, bob: people['bob@acme.example']! };
}

test('enrol two users, activate an auto-approved role with a key touch, and deactivate it', async () => {
  const { alice } = await setup();
  const status = JSON.parse(alice.pim('status', '--json').stdout) as StatusJson;
  assert.equal(status.unenrolled, false, 'enrolled, not the --user demo path');
  assert.equal(status.policy?.version, 1);

  const act = await alice.start(
    ['activate', 'readonly', '--duration', '1h', '--no-open'],
    /Touch your security key to sign this request: (\S+)/,
  );
  assert.equal((await touch(alice.key, act.match[1]!)).value?.state, 'active');
  assert.equal(await act.exited(), 0, act.output());
  assert.match(act.output(), /readonly is ACTIVE until/);

  const list = JSON.parse(alice.pim('activations', '--json').stdout) as { role: string; state: string }[];
  assert.deepEqual(
    list.map((a) => [a.role, a.state]),
    [['readonly', 'active']],
  );
  const off = alice.pim('deactivate', 'readonly');
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /deactivated/);
  assert.equal(alice.pim('deactivate', 'readonly').code, 1, 'nothing left to deactivate');
});

test('an approval-required role waits for bob, who approves it with his own key', async () => {
  const { alice, bob } = await setup();
  const act = await alice.start(
    ['activate', 'admin', '--reason', 'GPU node 17 hangs', '--ticket', 'INC-4711', '--wait', '--no-open'],
    /sign this request: (\S+)/,
  );
  assert.equal((await touch(alice.key, act.match[1]!)).value?.state, 'pending-approval');
  let pending: { id: string; user: string; role: string }[] = [];
  for (let i = 0; i < 50 && pending.length === 0; i++)
    pending = JSON.parse(bob.pim('approvals', '--json').stdout) as typeof pending;
  assert.deepEqual(
    pending.map((p) => [p.user, p.role]),
    [['alice@acme.example', 'admin']],
  );
  assert.match(bob.pim('approvals').stdout, /GPU node 17 hangs/);
  const approve = await decideWithKey(bob, pending[0]!.id, 'approve');
  assert.equal(approve.touched.value?.state, 'active');
  assert.equal(approve.code, 0, approve.output);
  assert.equal(await act.exited(), 0, act.output());
  assert.match(act.output(), /admin is ACTIVE/);
});

test('a denial ends the request and alice sees the reason', async () => {
  const { alice, bob } = await setup();
  const act = await alice.start(
    ['activate', 'admin', '--reason', 'curious', '--ticket', 'INC-1', '--wait', '--no-open'],
    /sign this request: (\S+)/,
  );
  await touch(alice.key, act.match[1]!);
  const id = (JSON.parse(bob.pim('approvals', '--json').stdout) as { id: string }[])[0]!.id;
  assert.equal(bob.pim('deny', id).code, 2, 'a denial needs --reason');
  const deny = await decideWithKey(bob, id, 'deny', 'use readonly instead');
  assert.equal(deny.code, 0, deny.output);
  assert.equal(await act.exited(), 5);
  assert.match(act.output(), /DENIED — denied by bob@acme\.example: use readonly instead/);
});

test('what the offline policy refuses is refused before anything is signed', async () => {
  const { alice } = await setup();
  const r = alice.pim('activate', 'admin', '--reason', 'x', '--ticket', 'CHG-1', '--no-open');
  assert.equal(r.code, 3, 'refused by policy: exit 3, as --help says');
  assert.match(r.stderr, /ticket-invalid/);
  assert.doesNotMatch(r.stderr, /Touch your security key/);
});

test('extending an active role chains a new signed request and moves the end of the window', async () => {
  const { alice } = await setup();
  const act = await alice.start(['activate', 'readonly', '--duration', '1h', '--no-open'], /sign this request: (\S+)/);
  await touch(alice.key, act.match[1]!);
  assert.equal(await act.exited(), 0);
  const before = (
    JSON.parse(alice.pim('activations', '--json').stdout) as { id: string; state: string; expiresAt: string }[]
  ).find((a) => a.state === 'active')!;
  const ext = await alice.start(['extend', 'readonly', '--duration', '2h', '--no-open'], /sign this request: (\S+)/);
  assert.equal((await touch(alice.key, ext.match[1]!)).value?.state, 'active');
  assert.equal(await ext.exited(), 0, ext.output());
  const after = JSON.parse(alice.pim('activations', '--json').stdout) as {
    id: string;
    state: string;
    expiresAt: string;
    request: { kind: string; extends: string | null };
  }[];
  const live = after.filter((a) => a.state === 'active');
  assert.equal(live.length, 1, 'the extension replaces the active activation');
  assert.equal(live[0]!.request.kind, 'extend');
  assert.equal(live[0]!.request.extends, before.id, 'chained to the activation it extends');
  assert.equal(
    Date.parse(live[0]!.expiresAt) - Date.parse(before.expiresAt),
    2 * 3600_000,
    'two more hours from the old end',
  );
  assert.equal(after.find((a) => a.id === before.id)!.state, 'deactivated');
  assert.equal(alice.pim('extend', 'admin').code, 1, 'only an active role can be extended');
});
