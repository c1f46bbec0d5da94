// An activation's SSH identity against the real OpenSSH programs: the key from generateSshKey,
// certified by a CA made with `ssh-keygen`, added to a real `ssh-agent` by our protocol client,
// seen by `ssh-add -l`, used by `ssh` to log in to a real `sshd` that trusts the CA, removed again,
// and dropped by the agent itself when its lifetime runs out.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'vitest';
import { addCertificate, listIdentities, removeIdentity, SshAgentError } from '../../agent/credentials/ssh-agent';
import { generateSshKey, parseCertificate, sshKeyFromSeed } from '../../agent/credentials/ssh-key';
import { tmpDir } from '../helpers/repo';
import {
  currentUser,
  makeSshCa,
  requireSystemProgram,
  sshAddList,
  sshRun,
  startSshAgent,
  startSshd,
  type TestSshCa,
} from '../helpers/ssh';

const HOUR = 3600;

interface World {
  dir: string;
  ca: TestSshCa;
  sock: string;
}

/** The client programs, a temporary folder, a CA and a fresh ssh-agent; null when skipped. */
async function world(t: TestContext): Promise<World | null> {
  for (const p of ['ssh-agent', 'ssh-add', 'ssh-keygen', 'ssh']) {
    if (!requireSystemProgram(t, p, 'the SSH identity tests use the real OpenSSH client programs (openssh-client)'))
      return null;
  }
  const dir = tmpDir('pim-ssh-');
  const ca = makeSshCa(dir);
  const agent = await startSshAgent(dir);
  return { dir, ca, sock: agent.sock };
}

/** A fresh activation key with a certificate for `principals`, like the control plane issues. */
function activationIdentity(w: World, o: { principals?: string[]; validity?: string } = {}) {
  const key = generateSshKey();
  const certificate = w.ca.sign(key.publicKey, {
    id: 'alice@acme.example:ops-admin:act-1',
    principals: o.principals ?? ['ops'],
    validity: o.validity ?? '-1m:+10m',
  });
  return { key, certificate, cert: parseCertificate(certificate) };
}

/** ssh-keygen's absolute time form, YYYYMMDDHHMMSS (makeSshCa runs ssh-keygen with TZ=UTC). */
function keygenTime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

test('an added certificate is in the real ssh-agent: ssh-add -l shows it as ED25519-CERT with our comment, and listIdentities returns its blob', async (t) => {
  const w = await world(t);
  if (!w) return;
  const { key, certificate, cert } = activationIdentity(w);

  await addCertificate(w.sock, { certificate, key, comment: 'pim:ops-admin:act-1', lifetimeSeconds: HOUR });

  const listed = sshAddList(w.sock);
  assert.equal(listed.status, 0, listed.output);
  assert.equal(listed.lines.length, 1, listed.output);
  assert.match(listed.lines[0]!, /^256 SHA256:\S+ pim:ops-admin:act-1 \(ED25519-CERT\)$/);

  const ids = await listIdentities(w.sock);
  assert.equal(ids.length, 1);
  assert.equal(ids[0]!.type, 'ssh-ed25519-cert-v01@openssh.com');
  assert.equal(ids[0]!.comment, 'pim:ops-admin:act-1');
  assert.ok(ids[0]!.blob.equals(cert.blob), 'the agent holds exactly the issued certificate');
});

test('with the certificate in the agent, ssh logs in to an sshd that allows its principal and runs a command', async (t) => {
  const w = await world(t);
  if (!w) return;
  const sshd = await startSshd(t, { caPublicKey: w.ca.publicKey, principalsFor: { [currentUser()]: ['ops'] } });
  if (!sshd) return;
  const { key, certificate } = activationIdentity(w);

  // before: the agent is empty, sshd has nothing to accept
  const before = await sshRun(sshd.port, sshd.user, w.sock, 'echo ok');
  assert.equal(before.status, 255);
  assert.match(before.stderr, /Permission denied \(publickey\)/);

  // a key reloaded from its stored seed is the same key
  await addCertificate(w.sock, {
    certificate,
    key: sshKeyFromSeed(key.seed),
    comment: 'pim:ops-admin:act-1',
    lifetimeSeconds: HOUR,
  });
  const r = await sshRun(sshd.port, sshd.user, w.sock, 'echo ok');
  assert.equal(r.status, 0, `${r.stderr}\n--- sshd:\n${sshd.log()}`);
  assert.equal(r.stdout, 'ok\n');
  assert.match(
    sshd.log(),
    /Accepted publickey for \S+ from 127\.0\.0\.1 .*ED25519-CERT .*ID alice@acme\.example:ops-admin:act-1/,
  );
});

test('removeIdentity takes the certificate out: ssh-add no longer lists it, ssh is denied, and a second removal answers false', async (t) => {
  const w = await world(t);
  if (!w) return;
  const sshd = await startSshd(t, { caPublicKey: w.ca.publicKey, principalsFor: { [currentUser()]: ['ops'] } });
  if (!sshd) return;
  const { key, certificate, cert } = activationIdentity(w);
  await addCertificate(w.sock, { certificate, key, comment: 'pim:ops-admin:act-1', lifetimeSeconds: HOUR });
  assert.equal((await sshRun(sshd.port, sshd.user, w.sock, 'echo ok')).stdout, 'ok\n');

  assert.equal(await removeIdentity(w.sock, cert.blob), true);

  const listed = sshAddList(w.sock);
  assert.deepEqual(listed.lines, []);
  assert.match(listed.output, /The agent has no identities/);
  assert.deepEqual(await listIdentities(w.sock), []);
  const r = await sshRun(sshd.port, sshd.user, w.sock, 'echo ok');
  assert.equal(r.status, 255);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Permission denied \(publickey\)/);

  assert.equal(await removeIdentity(w.sock, cert.blob), false, 'not there any more');
});

test('sshd refuses a certificate whose principals the login user does not allow', async (t) => {
  const w = await world(t);
  if (!w) return;
  const sshd = await startSshd(t, { caPublicKey: w.ca.publicKey, principalsFor: { [currentUser()]: ['ops'] } });
  if (!sshd) return;
  const { key, certificate } = activationIdentity(w, { principals: ['billing', 'dba'] });
  await addCertificate(w.sock, { certificate, key, comment: 'pim:billing:act-2', lifetimeSeconds: HOUR });
  assert.equal(sshAddList(w.sock).lines.length, 1, 'the certificate is in the agent');

  const r = await sshRun(sshd.port, sshd.user, w.sock, 'echo ok');
  assert.equal(r.status, 255);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Permission denied \(publickey\)/);
  assert.match(sshd.log(), /Certificate does not contain an authorized principal/);
  assert.doesNotMatch(sshd.log(), /Accepted publickey/);
});

test('with a lifetime of 1 s the real ssh-agent drops the identity by itself', async (t) => {
  const w = await world(t);
  if (!w) return;
  const { key, certificate, cert } = activationIdentity(w);
  await addCertificate(w.sock, { certificate, key, comment: 'pim:ops-admin:act-3', lifetimeSeconds: 1 });
  const added = Date.now();
  assert.ok(
    (await listIdentities(w.sock)).some((i) => i.blob.equals(cert.blob)),
    'listed right after being added',
  );

  let gone = false;
  while (!gone && Date.now() - added < 5_000) {
    await new Promise((r) => setTimeout(r, 100));
    gone = !(await listIdentities(w.sock)).some((i) => i.blob.equals(cert.blob));
  }
  assert.ok(gone, 'still in the agent 5 s after a 1 s lifetime');
  assert.deepEqual(sshAddList(w.sock).lines, []);
});

test('an expired certificate is refused by addCertificate and never reaches the agent', async (t) => {
  const w = await world(t);
  if (!w) return;
  const now = Date.now();
  const past = `${keygenTime(new Date(now - 20 * 60_000))}:${keygenTime(new Date(now - 10 * 60_000))}`;
  const { key, certificate, cert } = activationIdentity(w, { validity: past });
  assert.ok(cert.validBefore.getTime() < now, `the certificate ended at ${cert.validBefore.toISOString()}`);

  await assert.rejects(
    addCertificate(w.sock, { certificate, key, comment: 'pim:ops-admin:act-4', lifetimeSeconds: HOUR }),
    (e: unknown) => e instanceof SshAgentError && e.code === 'expired-certificate' && /expired at/.test(e.message),
  );
  assert.deepEqual(await listIdentities(w.sock), []);
  assert.match(sshAddList(w.sock).output, /The agent has no identities/);

  // refused before any connection: a socket that does not exist does not change the answer
  await assert.rejects(
    addCertificate(path.join(w.dir, 'no-such-agent.sock'), {
      certificate,
      key,
      comment: 'pim:ops-admin:act-4',
      lifetimeSeconds: HOUR,
    }),
    (e: unknown) => e instanceof SshAgentError && e.code === 'expired-certificate',
  );
});
