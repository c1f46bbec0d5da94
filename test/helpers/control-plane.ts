// A control plane in-process, with enrolled users holding software security keys, for protocol tests.
import crypto from 'node:crypto';
import { after } from 'node:test';
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

/** Enrol a user end to end: code, device key, registration ceremony with a software key. */
export async function enrol(cp: ControlPlane, email: string, key = new SoftAuthenticator({ name: email })): Promise<Person> {
  const { code } = cp.addUser(email, []);
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: 'OKP'; crv: 'Ed25519'; x: string };
  const thumbprint = await calculateJwkThumbprint(jwk);
  const started = await cp.startEnrolment(code, jwk, thumbprint);
  await cp.finishEnrolment(started.id, key.register(started.options, ORIGIN));
  return { caller: { email, device: thumbprint }, key };
}

export function requestFor(p: Person, role: string, over: Partial<ActivationRequest> = {}, now = new Date()): ActivationRequest {
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
