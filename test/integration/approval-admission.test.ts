// Issue 10, item 1 and 3, over real HTTP: a request becomes active only if the policy in force at
// that moment — evaluated by the same engine, on the server's clock — still allows it; otherwise it
// ends with a reason the requester sees. Each test performs the attack (or the race) through the API
// a real agent and ceremony page use, then checks it was refused and nothing became active.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { bodySha256 } from '../../shared/device-jws';
import { createDeviceKey, FileKeystore, signDeviceRequest, type DeviceKey } from '../../agent/keystore';
import { serve, type RunningServer } from '../../server/http';
import { publishPolicy } from '../../server/repo/repository';
import { makeRepo, tmpDir } from '../helpers/repo';
import { SoftAuthenticator } from '../helpers/soft-authenticator';

const HOUR = 3600_000;

/** The hour (UTC) every world starts at, whatever the real time: the windowed role's window is
 *  open then (11:00–14:00) and closed four hours later, on any day. */
const START_HOUR = 12;
const WINDOW = `[{ days: [mon, tue, wed, thu, fri, sat, sun], from: '11:00', to: '14:00', tz: UTC }]`;

const policy = (
  o: { alice?: boolean; windows?: string; readonlyApproval?: boolean; adminCount?: number; bobLeads?: boolean } = {},
) => `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional, mfa: { userVerification: discouraged }${o.readonlyApproval ? ', approval: { approvers: { groups: [leads] }, count: 1 }' : ''} }
  - name: admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      maxActive: 1
      approval: { approvers: { groups: [leads] }, count: ${o.adminCount ?? 1} }
  - name: windowed
    eligible: { groups: [eng] }
    activation:
      maxDuration: 1h
      windows: ${o.windows ?? WINDOW}
      approval: { approvers: { groups: [leads] }, count: 1 }
  - name: two-eyes
    eligible: { groups: [eng] }
    activation:
      maxDuration: 1h
      approval: { approvers: { groups: [leads] }, count: 2 }
users:
${o.alice === false ? '' : '  - { email: alice@acme.example, groups: [eng] }\n'}  - { email: bob@acme.example, groups: [${o.bobLeads === false ? 'eng' : 'eng, leads'}] }
  - { email: carol@acme.example, groups: [eng, leads] }
  - { email: dave@acme.example, groups: [eng, leads] }
`;

interface Person {
  email: string;
  device: DeviceKey;
  key: SoftAuthenticator;
}

interface Reply<T = unknown> {
  status: number;
  ok: boolean;
  value: T;
  error?: { code: string; message: string };
}

interface View {
  id: string;
  state: string;
  endReason: string | null;
  expiresAt: string | null;
}

/** A served control plane whose clock the test moves (`shift`), and the people enrolled on it.
 *  Device signatures are made on the same moved clock, as an agent on that day would make them. */
async function world(text = policy()) {
  const { dir } = makeRepo({ policy: text });
  // moved forward (less than a day) to START_HOUR:xx UTC, so no test depends on the real hour
  let offset = ((((START_HOUR - new Date().getUTCHours()) % 24) + 24) % 24) * HOUR;
  const clock = () => new Date(Date.now() + offset);
  const srv: RunningServer = await serve(dir, { host: '127.0.0.1', port: 0, clock, timestampCheckMs: HOUR });
  after(() => srv.close());

  async function http<T>(method: 'GET' | 'POST', path: string, body: unknown, who: Person | null): Promise<Reply<T>> {
    const raw = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = raw ? { 'content-type': 'application/json' } : {};
    if (who)
      headers.authorization = `PIM-Device ${await signDeviceRequest(who.device, { htm: method, htu: path, bodySha256: bodySha256(raw), now: clock() })}`;
    const res = await fetch(srv.url + path, { method, headers, body: raw || undefined });
    const payload = (await res.json()) as { ok: boolean; value: T; error?: { code: string; message: string } };
    return { status: res.status, ...payload };
  }

  async function enrol(email: string): Promise<Person> {
    const device = await createDeviceKey(new FileKeystore(tmpDir()));
    const key = new SoftAuthenticator({ name: email });
    const p: Person = { email, device, key };
    const { code } = srv.controlPlane.users.add(email, []);
    const started = await http<{ id: string; options: never }>(
      'POST',
      '/api/v1/enrol/start',
      { code, deviceJwk: device.publicJwk },
      p,
    );
    assert.equal(started.status, 200, started.error?.message);
    const done = await http(
      'POST',
      `/api/v1/ceremony/enrol/${started.value.id}`,
      { response: key.register(started.value.options, srv.publicUrl) },
      null,
    );
    assert.equal(done.status, 200, done.error?.message);
    return p;
  }

  /** The requester's agent asks, and the requester touches the key on the ceremony page. */
  async function request(p: Person, role: string, over: Record<string, unknown> = {}) {
    const body = {
      request: {
        v: 1,
        kind: 'activate',
        user: p.email,
        device: p.device.thumbprint,
        role,
        duration: 3600,
        justification: 'INC-1',
        ticket: null,
        sshPublicKey: null,
        policyVersion: 1,
        requestedAt: clock().toISOString(),
        extends: null,
        ...over,
      },
    };
    const asked = await http<{ activation: View; options: never }>('POST', '/api/v1/activations', body, p);
    assert.equal(asked.status, 200, asked.error?.message);
    return asked.value;
  }
  const sign = (p: Person, asked: { activation: View; options: never }, opts = {}) =>
    http<View>(
      'POST',
      `/api/v1/ceremony/activation/${asked.activation.id}`,
      { response: p.key.authenticate(asked.options, srv.publicUrl, opts) },
      null,
    );

  /** An approver's agent asks to approve (the challenge); `touch` is their key touch, later. */
  async function challenge(approver: Person, id: string) {
    const c = await http<{ ceremonyId: string; options: never }>(
      'POST',
      `/api/v1/approvals/${id}`,
      { decision: 'approve' },
      approver,
    );
    assert.equal(c.status, 200, c.error?.message);
    return {
      touch: () =>
        http<View>(
          'POST',
          `/api/v1/ceremony/approval/${c.value.ceremonyId}`,
          { response: approver.key.authenticate(c.value.options, srv.publicUrl) },
          null,
        ),
    };
  }
  const view = async (p: Person, id: string) => {
    const r = await http<View>('GET', `/api/v1/activations/${id}`, undefined, p);
    assert.equal(r.status, 200, r.error?.message);
    return r.value;
  };

  const [alice, bob, carol, dave] = [
    await enrol('alice@acme.example'),
    await enrol('bob@acme.example'),
    await enrol('carol@acme.example'),
    await enrol('dave@acme.example'),
  ];
  /** the admin republishes the policy (the next version) while requests wait */
  const republish = (text: string) => publishPolicy(dir, text, { extraMembers: srv.controlPlane.users.extraMembers() });
  return {
    dir,
    srv,
    alice,
    bob,
    carol,
    dave,
    http,
    request,
    sign,
    challenge,
    view,
    republish,
    clock,
    shift: (ms: number) => (offset += ms),
  };
}

/** What a waiting requester meets: the request ended, denied, with the policy's reason. */
function endedWith(v: View, state: string, reason: RegExp) {
  assert.equal(v.state, state, `state ${v.state} (${v.endReason})`);
  assert.match(v.endReason ?? '', reason);
  assert.equal(v.expiresAt, null, 'it never became active');
}

test('two pending requests both approved: the second is refused by maxActive', async () => {
  const w = await world();
  const first = await w.request(w.alice, 'admin');
  const second = await w.request(w.alice, 'admin');
  assert.equal((await w.sign(w.alice, first)).value.state, 'pending-approval');
  assert.equal((await w.sign(w.alice, second)).value.state, 'pending-approval');
  assert.equal((await (await w.challenge(w.bob, first.activation.id)).touch()).value.state, 'active');
  const late = await (await w.challenge(w.bob, second.activation.id)).touch();
  assert.equal(late.status, 200, 'the approval itself was valid; the request is what ends');
  endedWith(await w.view(w.alice, second.activation.id), 'denied', /not granted when approved: .*max-active-reached/);
  assert.equal((await w.view(w.alice, first.activation.id)).state, 'active');
});

test('a requester removed from the policy while waiting is refused at the last approval', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'admin');
  await w.sign(w.alice, asked);
  w.republish(policy({ alice: false }));
  await (await w.challenge(w.bob, asked.activation.id)).touch();
  endedWith(
    await w.view(w.alice, asked.activation.id),
    'denied',
    /policy in force \(v2\) no longer allows it: not-eligible/,
  );
});

test('a time window that closed while the request waited refuses it at the last approval', async () => {
  const w = await world();
  assert.equal(w.clock().getUTCHours(), START_HOUR);
  const asked = await w.request(w.alice, 'windowed');
  assert.equal((await w.sign(w.alice, asked)).value.state, 'pending-approval', 'asked inside the window');
  w.shift(4 * HOUR);
  await (await w.challenge(w.bob, asked.activation.id)).touch();
  endedWith(await w.view(w.alice, asked.activation.id), 'denied', /outside-window/);
});

test('the 24 h approval deadline passing between the challenge and the key touch grants nothing', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'admin');
  await w.sign(w.alice, asked);
  w.shift(24 * HOUR - 2 * 60_000);
  const pending = await w.challenge(w.bob, asked.activation.id); // still inside the deadline
  w.shift(3 * 60_000); // the challenge (5 min) is still fresh; the request's 24 h are over
  const r = await pending.touch();
  assert.equal(r.status, 409);
  assert.equal(r.error?.code, 'approval-deadline-passed');
  endedWith(await w.view(w.alice, asked.activation.id), 'request-expired', /not approved within 24 hours/);
});

test('an activation challenge issued before the device was revoked cannot be signed afterwards', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'readonly');
  const waiting = await w.request(w.alice, 'admin');
  assert.equal((await w.sign(w.alice, waiting)).value.state, 'pending-approval');
  const bobAsks = await w.challenge(w.bob, waiting.activation.id);
  assert.deepEqual(
    w.srv.controlPlane.users.revokeDeviceAccess(w.alice.device.thumbprint).requests.sort(),
    [asked.activation.id, waiting.activation.id].sort(),
  );
  const r = await w.sign(w.alice, asked);
  assert.equal(r.status, 409, 'the request ended with its device');
  assert.equal(r.error?.code, 'ceremony-done');
  const approved = await bobAsks.touch();
  assert.equal(approved.status, 409, "bob's approval comes too late");
  for (const id of [asked.activation.id, waiting.activation.id]) {
    const v = w.srv.controlPlane.activations.all().find((a) => a.id === id)!;
    endedWith(v, 'denied', /device that signed the request was revoked/);
  }
  assert.equal(w.srv.controlPlane.activations.all({ live: true }).length, 0, 'nothing is live');
});

test('a challenge issued before the security key was revoked cannot be signed afterwards', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'readonly');
  const keyId = w.alice.key.credentials()[0]!.id;
  assert.equal(w.srv.controlPlane.users.revokeKey(w.alice.email, keyId), true);
  const r = await w.sign(w.alice, asked);
  assert.equal(r.status, 403);
  assert.equal(r.error?.code, 'unknown-credential');
  assert.equal((await w.view(w.alice, asked.activation.id)).state, 'requested');
});

test("an approval challenge issued before the approver's device or key was revoked cannot be signed afterwards", async () => {
  const w = await world();
  const one = await w.request(w.alice, 'two-eyes');
  await w.sign(w.alice, one);
  const byDevice = await w.challenge(w.bob, one.activation.id);
  const byKey = await w.challenge(w.carol, one.activation.id);
  w.srv.controlPlane.users.revokeDevice(w.bob.device.thumbprint);
  w.srv.controlPlane.users.revokeKey(w.carol.email, w.carol.key.credentials()[0]!.id);
  const a = await byDevice.touch();
  assert.equal(a.status, 403);
  assert.equal(a.error?.code, 'device-revoked');
  const b = await byKey.touch();
  assert.equal(b.status, 403);
  assert.equal(b.error?.code, 'unknown-credential');
  const v = await w.view(w.alice, one.activation.id);
  assert.equal(v.state, 'pending-approval');
  assert.deepEqual((v as View & { approvals: unknown[] }).approvals, [], 'no approval was recorded');
});

test('an extension prepared before an admin revoked the activation never becomes active', async () => {
  const w = await world();
  const base = await w.request(w.alice, 'readonly');
  assert.equal((await w.sign(w.alice, base)).value.state, 'active');
  const ext = await w.request(w.alice, 'readonly', { kind: 'extend', extends: base.activation.id });
  w.srv.controlPlane.activations.revoke(base.activation.id, 'revoked by admin: suspicious activity');
  const r = await w.sign(w.alice, ext);
  assert.equal(r.status, 200);
  endedWith(
    r.value,
    'denied',
    /the activation it extends is no longer active \(revoked: revoked by admin: suspicious activity\)/,
  );
  assert.equal(w.srv.controlPlane.activations.all({ live: true }).length, 0, 'nothing is live');
  const creds = await w.http('POST', `/api/v1/activations/${ext.activation.id}/credentials`, {}, w.alice);
  assert.equal(creds.error?.code, 'not-active');
});

test('an auto-approved request refused when signed ends with the reason (maxActive reached meanwhile)', async () => {
  const w = await world(
    policy().replace(
      'activation: { maxDuration: 8h, justification: optional, mfa: { userVerification: discouraged } }',
      'activation: { maxDuration: 8h, justification: optional, maxActive: 1 }',
    ),
  );
  const a = await w.request(w.alice, 'readonly');
  const b = await w.request(w.alice, 'readonly');
  assert.equal((await w.sign(w.alice, a)).value.state, 'active');
  const r = await w.sign(w.alice, b);
  endedWith(r.value, 'denied', /not granted when signed: .*max-active-reached/);
});

test('a second approval by the same approver is refused with 409 already-decided', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'two-eyes');
  await w.sign(w.alice, asked);
  // two challenges asked before either was signed, as two open ceremony tabs would
  const first = await w.challenge(w.bob, asked.activation.id);
  const second = await w.challenge(w.bob, asked.activation.id);
  assert.equal((await first.touch()).value.state, 'pending-approval');
  const again = await second.touch();
  assert.equal(again.status, 409);
  assert.equal(again.error?.code, 'already-decided');
  const v = await w.view(w.alice, asked.activation.id);
  assert.equal(v.state, 'pending-approval', 'one approver counts once');
});

test("a forged, unsigned assertion with a low counter does not flag the victim's key as cloned", async () => {
  const w = await world();
  const warm = await w.request(w.alice, 'readonly');
  await w.sign(w.alice, warm, { counter: 50 });
  await w.http('POST', `/api/v1/activations/${warm.activation.id}/deactivate`, {}, w.alice);
  const asked = await w.request(w.alice, 'readonly');
  // the attacker knows the public ceremony URL and alice's credential id, not her private key
  const forged = w.alice.key.authenticate(asked.options, w.srv.publicUrl, { counter: 1 }) as {
    response: { signature: string };
  };
  const sig = Buffer.from(forged.response.signature, 'base64url');
  sig[sig.length - 1]! ^= 0xff;
  forged.response.signature = sig.toString('base64url');
  const r = await w.http('POST', `/api/v1/ceremony/activation/${asked.activation.id}`, { response: forged }, null);
  assert.equal(r.status, 403);
  assert.equal(r.error?.code, 'bad-signature');
  const keys = w.srv.controlPlane.users.list().find((u) => u.email === w.alice.email)!.keys;
  assert.deepEqual(
    keys.map((k) => k.flagged),
    [false],
    'the key is not flagged',
  );
  // and alice's real touch still works
  assert.equal((await w.sign(w.alice, asked, { counter: 51 })).value.state, 'active');
});

// Review S1: how many approvals a request needs, and whose approvals count, is the policy in force
// when it would take effect, not the one it was asked under.

interface Waiting extends View {
  approvalsNeeded: number;
  approvals: { approver: string }[];
}

test('a role made to need approval while a request was unsigned does not start at the key touch', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'readonly');
  assert.equal(asked.activation.state, 'requested');
  w.republish(policy({ readonlyApproval: true }));
  const signed = await w.sign(w.alice, asked);
  assert.equal(signed.status, 200, signed.error?.message);
  const v = signed.value as Waiting;
  assert.equal(v.state, 'pending-approval', 'it waits for the approval the policy in force asks for');
  assert.equal(v.approvalsNeeded, 1);
  assert.equal(v.expiresAt, null, 'it is not active');
  const creds = await w.http('POST', `/api/v1/activations/${asked.activation.id}/credentials`, {}, w.alice);
  assert.equal(creds.error?.code, 'not-active', 'no credentials without the approval');
  assert.equal(
    (await (await w.challenge(w.bob, asked.activation.id)).touch()).value.state,
    'active',
    'an approver can still grant it',
  );
});

test('an approval count raised from 1 to 2 while the request waits: one approval does not start it', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'admin');
  assert.equal((await w.sign(w.alice, asked)).value.state, 'pending-approval');
  w.republish(policy({ adminCount: 2 }));
  const first = await (await w.challenge(w.bob, asked.activation.id)).touch();
  assert.equal(first.status, 200, first.error?.message);
  const v = (await w.view(w.alice, asked.activation.id)) as Waiting;
  assert.equal(v.state, 'pending-approval', 'one approval of the two the policy asks for now');
  assert.equal(v.approvalsNeeded, 2, 'the requester sees the count in force');
  assert.equal(v.expiresAt, null);
  assert.equal(
    (await (await w.challenge(w.carol, asked.activation.id)).touch()).value.state,
    'active',
    'the second approval starts it',
  );
});

test('an approver removed from the approver group after approving no longer counts', async () => {
  const w = await world();
  const asked = await w.request(w.alice, 'two-eyes');
  await w.sign(w.alice, asked);
  assert.equal((await (await w.challenge(w.bob, asked.activation.id)).touch()).value.state, 'pending-approval');
  w.republish(policy({ bobLeads: false }));
  const second = await (await w.challenge(w.carol, asked.activation.id)).touch();
  assert.equal(second.status, 200, second.error?.message);
  const v = (await w.view(w.alice, asked.activation.id)) as Waiting;
  assert.equal(v.state, 'pending-approval', "bob's approval no longer counts: one of two");
  assert.equal(v.expiresAt, null);
  assert.deepEqual(
    v.approvals.map((a) => a.approver).sort(),
    ['bob@acme.example', 'carol@acme.example'],
    'the record keeps what happened',
  );
  assert.equal(
    (await (await w.challenge(w.dave, asked.activation.id)).touch()).value.state,
    'active',
    'a second current approver starts it',
  );
});

test('two assertions with the same counter verified at once: only one counts, the key is flagged', async () => {
  const w = await world();
  const cp = w.srv.controlPlane;
  const a = await w.request(w.alice, 'readonly');
  const b = await w.request(w.alice, 'readonly');
  // a cloned key signs both with counter 7. Both submissions start before either commits: each
  // reads the stored counter (0) synchronously, then awaits the signature check, so both verify
  // against the same stored counter and only the conditional update can tell them apart.
  const ra = w.alice.key.authenticate(a.options, w.srv.publicUrl, { counter: 7 });
  const rb = w.alice.key.authenticate(b.options, w.srv.publicUrl, { counter: 7 });
  const results = await Promise.allSettled([
    cp.activations.submitAssertion(a.activation.id, ra as never),
    cp.activations.submitAssertion(b.activation.id, rb as never),
  ]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1, 'one assertion counts');
  assert.equal(lost.length, 1);
  assert.equal((lost[0]!.reason as { code?: string }).code, 'counter-regressed');
  const states = await Promise.all([a, b].map(async (x) => (await w.view(w.alice, x.activation.id)).state));
  assert.deepEqual(states.sort(), ['active', 'requested'], 'the refused one granted nothing');
  const keys = cp.users.list().find((u) => u.email === w.alice.email)!.keys;
  assert.deepEqual(
    keys.map((k) => k.flagged),
    [true],
    'the key is flagged as possibly cloned',
  );
});
