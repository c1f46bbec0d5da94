// The UI's contract for enrolment, activation and approval, against a real control plane over HTTP:
// enroll returns at once and finishes in the background; getState carries the enrolment and the
// activations from agent.db, kept fresh by the tracker; the control plane's error codes come
// through unchanged.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import type { AgentState } from '../../shared/api';
import { ActivationTracker } from '../../agent/activation/tracker';
import { createDispatch, type Dispatch } from '../../agent/api/dispatch';
import { serve } from '../../server/http';
import { newAgent } from '../helpers/agent';
import { makeRepo } from '../helpers/repo';
import { ENG_POLICY } from '../helpers/cli-world';
import { touch } from '../helpers/ceremony';
import { SoftAuthenticator } from '../helpers/soft-authenticator';

process.env.PIM_KEYSTORE = 'file';

async function until(
  d: Dispatch,
  what: string,
  ok: (s: AgentState) => boolean,
  timeoutMs = 10_000,
): Promise<AgentState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await d('getState', {});
    assert.equal(r.ok, true);
    const s = (r as { value: AgentState }).value;
    if (ok(s)) return s;
    if (Date.now() > deadline)
      assert.fail(
        `timed out waiting for ${what}: ${JSON.stringify({ enrolled: s.enrolled, enrolment: s.enrolment, activations: s.activations.map((a) => [a.role, a.state]) })}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('enrol and activate through the UI contract; state comes from agent.db, errors keep their codes', async () => {
  const { dir } = makeRepo({ policy: ENG_POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const root = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(dir, 'trust-root.json')))
    .digest('hex');
  const agent = newAgent();
  const tracker = new ActivationTracker(agent, undefined, { pollMs: 100 });
  tracker.start();
  const d = createDispatch(agent, { tracker });
  const key = new SoftAuthenticator({ name: 'alice' });

  // a bad link is refused before anything happens; a link with the wrong trust root too
  const bad = await d('enroll', { link: `${srv.publicUrl}/enrol#code=short&root=${root}` });
  assert.equal(bad.ok ? null : bad.error.code, 'bad-input');
  const { code } = srv.controlPlane.users.add('alice@acme.example', []);
  const mismatch = await d('enroll', { link: `${srv.publicUrl}/enrol#code=${code}&root=${'0'.repeat(64)}` });
  assert.equal(mismatch.ok ? null : mismatch.error.code, 'root-mismatch');

  const t0 = Date.now();
  const started = await d('enroll', { link: `${srv.publicUrl}/enrol#code=${code}&root=${root}` });
  assert.ok(started.ok, JSON.stringify(started));
  assert.ok(Date.now() - t0 < 60_000, 'enroll returns without waiting for the key (which may take 15 minutes)');
  const e = started.value as { ceremonyUrl: string; user: string; server: string; deviceFingerprint: string };
  assert.equal(e.user, 'alice@acme.example');
  assert.equal(e.server, srv.publicUrl);
  assert.match(e.deviceFingerprint, /^[A-Za-z0-9_-]{16}$/);
  assert.match(e.ceremonyUrl, new RegExp(`^${srv.publicUrl}/ceremony/enrol/`));
  let s = await until(d, 'enrolment waiting', (x) => x.enrolment?.state === 'waiting');
  assert.equal(s.enrolled, false);
  assert.equal(s.enrolment?.deviceFingerprint, e.deviceFingerprint);
  assert.deepEqual(
    (await d('openCeremony', { url: e.ceremonyUrl })).ok,
    true,
    'the enrolment ceremony may be opened before the agent is connected',
  );

  assert.equal((await touch(key, e.ceremonyUrl)).ok, true);
  s = await until(
    d,
    'enrolled with a policy',
    (x) => x.enrolled && x.enrolment?.state === 'complete' && x.policy !== null,
  );
  assert.equal(s.user?.email, 'alice@acme.example');
  assert.ok(s.roles.some((r) => r.name === 'readonly' && r.decision.allowed));

  // activate: the offline check runs first and its reasons come back as not-allowed
  const tooLong = await d('activate', { role: 'readonly', duration: 9 * 3600 });
  assert.equal(tooLong.ok ? null : tooLong.error.code, 'not-allowed');
  const act = await d('activate', { role: 'readonly', duration: 600, justification: 'checking' });
  assert.ok(act.ok, JSON.stringify(act));
  const a = act.value as { id: string; state: string; ceremonyUrl: string };
  assert.equal(a.state, 'requested');
  s = ((await d('getState', {})) as { value: AgentState }).value;
  assert.deepEqual(
    s.activations.map((x) => [x.role, x.state]),
    [['readonly', 'requested']],
    'getState has it at once, from agent.db',
  );
  assert.equal((await d('openCeremony', { url: a.ceremonyUrl })).ok, true);
  const foreign = await d('openCeremony', { url: 'https://evil.example/ceremony/activation/x' });
  assert.equal(foreign.ok ? null : foreign.error.code, 'bad-ceremony-url');

  assert.equal((await touch(key, a.ceremonyUrl)).value?.state, 'active');
  s = await until(d, 'active in getState (background sync)', (x) => x.activations[0]?.state === 'active');
  assert.ok(s.activations[0]!.expiresAt);

  // the control plane's codes are preserved: alice cannot approve, and there is nothing pending
  const decide = await d('decide', { id: a.id, decision: 'approve' });
  assert.equal(decide.ok ? null : decide.error.code, 'not-an-approver');
  const approvals = await d('approvals', {});
  assert.deepEqual(approvals.ok ? approvals.value : null, []);

  const off = await d('deactivate', { role: 'readonly' });
  assert.ok(off.ok, JSON.stringify(off));
  s = await until(d, 'deactivated', (x) => x.activations[0]?.state === 'deactivated');
  assert.equal(s.activations[0]!.endReason, 'deactivated by the user');
  const again = await d('deactivate', { role: 'readonly' });
  assert.equal(again.ok ? null : again.error.code, 'not-active');
  const list = await d('listActivations', {});
  assert.deepEqual(list.ok ? (list.value as { state: string }[]).map((x) => x.state) : null, ['deactivated']);

  // offline: getState still answers from agent.db
  await srv.close();
  s = await until(d, 'state while offline', (x) => x.activations.length === 1);
  assert.equal(s.activations[0]!.state, 'deactivated');
  const offline = await d('listActivations', {});
  assert.equal(offline.ok ? null : offline.error.code, 'unreachable');
  tracker.stop();
});

test('the UI methods refuse malformed input with bad-input before doing anything', async () => {
  const d = createDispatch(newAgent());
  const cases: [string, unknown][] = [
    ['activate', { role: 'Bad Role' }],
    ['activate', { role: 'readonly', duration: 30 }],
    ['activate', { role: 'readonly', duration: 367 * 86400 }],
    ['activate', { role: 'readonly', justification: 'line\nbreak' }],
    ['activate', { role: 'readonly', ticket: 'INC-1\u0000' }],
    ['activate', { role: 'readonly', ticket: 'x'.repeat(129) }],
    ['activate', { role: 'readonly', sshPublicKey: 'x' }],
    ['deactivate', {}],
    ['deactivate', { role: 'readonly', id: 'abc' }],
    ['deactivate', { id: '../etc' }],
    ['decide', { id: 'abc', decision: 'deny' }],
    ['decide', { id: 'abc', decision: 'deny', reason: '   ' }],
    ['decide', { id: 'abc', decision: 'maybe' }],
    ['decide', { id: 'a/b', decision: 'approve' }],
    ['enroll', { link: 'x'.repeat(3000) }],
    ['enroll', { link: 'https://pim.example.com/enrol#code=abc\u0007' }],
    ['enroll', {}],
    ['openCeremony', { url: 'x'.repeat(3000) }],
    ['openCeremony', { url: 'https://a/', extra: 1 }],
    ['listActivations', { all: true }],
  ];
  for (const [method, input] of cases) {
    const r = await d(method, input);
    assert.equal(r.ok ? 'ok' : r.error.code, 'bad-input', `${method} ${JSON.stringify(input).slice(0, 80)}`);
  }
  const noServer = await d('openCeremony', { url: 'http://localhost:1/ceremony/enrol/abc' });
  assert.equal(noServer.ok ? null : noServer.error.code, 'bad-ceremony-url');
  const notConnected = await d('activate', { role: 'readonly' });
  assert.equal(notConnected.ok ? null : notConnected.error.code, 'no-policy');
  const notEnrolled = await d('approvals', {});
  assert.equal(notEnrolled.ok ? null : notEnrolled.error.code, 'not-connected');
  const s = await d('getState', {});
  assert.ok(s.ok);
  const st = s.value as AgentState;
  assert.equal(st.enrolled, false);
  assert.equal(st.enrolment, null);
  assert.deepEqual(st.activations, []);
});
