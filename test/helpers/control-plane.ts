// A control plane in-process, with enrolled users holding software security keys, for protocol tests.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { after } from './cleanup';
import { calculateJwkThumbprint } from 'jose';
import type { ActivationRequest } from '../../shared/activation';
import { configFor } from '../../server/config';
import { ControlPlane, type Caller } from '../../server/control-plane';
import { openServerDb } from '../../server/store/db';
import { makeRepo } from './repo';
import { SoftAuthenticator } from './soft-authenticator';

export const ORIGIN = 'http://localhost:7443';

export interface Person {
  caller: Caller;
  key: SoftAuthenticator;
}

export async function newControlPlane(opts: { policy?: string; clock?: () => Date } = {}) {
  const { dir } = makeRepo({ policy: opts.policy });
  const db = openServerDb(dir);
  after(() => db.close());
  const cp = new ControlPlane(dir, db, configFor(ORIGIN), opts.clock);
  return { cp, dir };
}

/** Enrol a user end to end: code, device key, registration ceremony with a software key (at the
 *  control plane's own origin: ORIGIN for newControlPlane, http://localhost:PORT for a served one). */
export async function enrol(
  cp: ControlPlane,
  email: string,
  key = new SoftAuthenticator({ name: email }),
): Promise<Person> {
  const { code } = cp.users.add(email, []);
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: 'OKP'; crv: 'Ed25519'; x: string };
  const thumbprint = await calculateJwkThumbprint(jwk);
  const started = await cp.enrolment.start(code, jwk, thumbprint);
  await cp.enrolment.finish(started.id, key.register(started.options, cp.cfg.publicUrl));
  return { caller: { email, device: thumbprint }, key };
}

export function requestFor(
  p: Person,
  role: string,
  over: Partial<ActivationRequest> = {},
  now = new Date(),
): ActivationRequest {
  return {
    v: 1,
    kind: 'activate',
    user: p.caller.email,
    device: p.caller.device,
    role,
    duration: 3600,
    justification: 'investigating INC-4711',
    ticket: null,
    sshPublicKey: null,
    policyVersion: 1,
    requestedAt: now.toISOString(),
    extends: null,
    ...over,
  };
}

/** Request a role and touch the key for it: an auto-approved role comes back `active`. The request
 *  is stamped with the control plane's clock (which tests may move). */
export async function activate(cp: ControlPlane, p: Person, role: string, over: Partial<ActivationRequest> = {}) {
  const { activation, options } = await cp.activations.create(p.caller, requestFor(p, role, over, cp.clockNow()));
  return cp.activations.submitAssertion(activation.id, p.key.authenticate(options, cp.cfg.publicUrl));
}

export interface SshCertListing {
  type: string;
  publicKey: string;
  signingCa: string;
  keyId: string;
  serial: string;
  valid: string;
  principals: string[];
  criticalOptions: string[];
  extensions: string[];
}

/** What real `ssh-keygen -L -f FILE` reads in an OpenSSH certificate (times in UTC). */
export function sshKeygenList(sshKeygen: string, file: string): SshCertListing {
  const r = spawnSync(sshKeygen, ['-L', '-f', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  if (r.status !== 0) throw new Error(`ssh-keygen -L failed (${r.status}): ${r.stderr}`);
  const fields: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  let list: string[] | null = null;
  for (const line of r.stdout.split('\n').slice(1)) {
    const m = /^\s{8}([A-Za-z ]+):\s?(.*)$/.exec(line);
    if (m) {
      fields[m[1]!] = m[2]!.trim();
      list = lists[m[1]!] = [];
    } else if (line.trim() && list) list.push(line.trim());
  }
  const items = (name: string) => (fields[name] === '(none)' ? [] : (lists[name] ?? []));
  return {
    type: fields.Type ?? '',
    publicKey: fields['Public key'] ?? '',
    signingCa: fields['Signing CA'] ?? '',
    keyId: fields['Key ID'] ?? '',
    serial: fields.Serial ?? '',
    valid: fields.Valid ?? '',
    principals: items('Principals'),
    criticalOptions: items('Critical Options'),
    extensions: items('Extensions'),
  };
}

/** "SHA256:…" of a public key file, as `ssh-keygen -l` prints it. */
export function sshFingerprint(sshKeygen: string, file: string): string {
  const r = spawnSync(sshKeygen, ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen -l failed (${r.status}): ${r.stderr}`);
  return r.stdout.split(' ')[1]!;
}
