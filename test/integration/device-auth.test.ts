// Agent → control plane calls are signed by the device key. Unsigned, expired, replayed, tampered
// or foreign signatures are refused over real HTTP, and the refused call changes nothing.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { bodySha256 } from '../../shared/device-jws';
import { ControlPlaneClient, ControlPlaneError } from '../../agent/activation/cp-client';
import { FileKeystore, createDeviceKey, signDeviceRequest, type DeviceKey } from '../../agent/keystore';
import { serve } from '../../server/http';
import { SoftAuthenticator } from '../helpers/soft-authenticator';
import { makeRepo, tmpDir } from '../helpers/repo';
import { READONLY_POLICY } from '../helpers/eng-policy';

async function enrolledOverHttp() {
  const { dir } = makeRepo({ policy: READONLY_POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const key: DeviceKey = await createDeviceKey(new FileKeystore(tmpDir()));
  const client = new ControlPlaneClient(srv.url, key);
  const { code } = srv.controlPlane.users.add('alice@acme.example', []);
  const started = await client.call<{ id: string; options: never }>('POST', '/api/v1/enrol/start', {
    code,
    deviceJwk: key.publicJwk,
  });
  assert.equal((await client.call<{ state: string }>('GET', `/api/v1/enrol/${started.id}`)).state, 'waiting');
  const authenticator = new SoftAuthenticator();
  const reg = authenticator.register(started.options, srv.publicUrl);
  await new ControlPlaneClient(srv.url, null).call(
    'POST',
    `/api/v1/ceremony/enrol/${started.id}`,
    { response: reg },
    { sign: false },
  );
  assert.equal((await client.call<{ state: string }>('GET', `/api/v1/enrol/${started.id}`)).state, 'complete');
  return { srv, key, client, authenticator };
}

async function raw(url: string, path: string, headers: Record<string, string>, body = '') {
  const res = await fetch(url + path, {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json', ...headers },
    body: body || undefined,
  });
  return { status: res.status, body: (await res.json()) as { ok: boolean; error?: { code: string } } };
}

test('enrolment over HTTP binds the device, and signed calls then identify the user', async () => {
  const { client } = await enrolledOverHttp();
  const list = await client.call<unknown[]>('GET', '/api/v1/activations');
  assert.deepEqual(list, []);
});

test('an unsigned call is refused', async () => {
  const { srv } = await enrolledOverHttp();
  const r = await raw(srv.url, '/api/v1/activations', {});
  assert.equal(r.status, 401);
  assert.equal(r.body.error?.code, 'device-signature-required');
});

test('an expired device signature is refused', async () => {
  const { srv, key } = await enrolledOverHttp();
  const jws = await signDeviceRequest(key, {
    htm: 'GET',
    htu: '/api/v1/activations',
    bodySha256: bodySha256(''),
    now: new Date(Date.now() - 10 * 60_000),
  });
  const r = await raw(srv.url, '/api/v1/activations', { authorization: `PIM-Device ${jws}` });
  assert.equal(r.body.error?.code, 'device-signature-expired');
});

test('a replayed device signature is refused', async () => {
  const { srv, key } = await enrolledOverHttp();
  const jws = await signDeviceRequest(key, { htm: 'GET', htu: '/api/v1/activations', bodySha256: bodySha256('') });
  assert.equal((await raw(srv.url, '/api/v1/activations', { authorization: `PIM-Device ${jws}` })).status, 200);
  const again = await raw(srv.url, '/api/v1/activations', { authorization: `PIM-Device ${jws}` });
  assert.equal(again.body.error?.code, 'device-signature-replayed');
});

test('a signature over another body or path is refused', async () => {
  const { srv, key } = await enrolledOverHttp();
  const body = JSON.stringify({ request: { role: 'readonly' } });
  const jws = await signDeviceRequest(key, {
    htm: 'POST',
    htu: '/api/v1/activations',
    bodySha256: bodySha256('{"request":{"role":"other"}}'),
  });
  assert.equal(
    (await raw(srv.url, '/api/v1/activations', { authorization: `PIM-Device ${jws}` }, body)).body.error?.code,
    'device-signature-mismatch',
  );
  const jws2 = await signDeviceRequest(key, { htm: 'GET', htu: '/api/v1/approvals', bodySha256: bodySha256('') });
  assert.equal(
    (await raw(srv.url, '/api/v1/activations', { authorization: `PIM-Device ${jws2}` })).body.error?.code,
    'device-signature-mismatch',
  );
});

test('a device that was never enrolled, or was revoked, is refused', async () => {
  const { srv, key, client } = await enrolledOverHttp();
  const stranger = new ControlPlaneClient(srv.url, await createDeviceKey(new FileKeystore(tmpDir())));
  await assert.rejects(
    stranger.call('GET', '/api/v1/activations'),
    (e: ControlPlaneError) => e.code === 'unknown-device',
  );
  assert.equal(srv.controlPlane.users.revokeDevice(key.thumbprint), true);
  await assert.rejects(
    client.call('GET', '/api/v1/activations'),
    (e: ControlPlaneError) => e.code === 'unknown-device',
  );
});

test('a long poll answers as soon as the activation changes state, not at its timeout', async () => {
  const { srv, client, authenticator, key } = await enrolledOverHttp();
  const request = {
    v: 1,
    kind: 'activate',
    user: 'alice@acme.example',
    device: key.thumbprint,
    role: 'readonly',
    duration: 600,
    justification: null,
    ticket: null,
    sshPublicKey: null,
    policyVersion: 1,
    requestedAt: new Date().toISOString(),
    extends: null,
  };
  const { activation, options } = await client.call<{ activation: { id: string }; options: never }>(
    'POST',
    '/api/v1/activations',
    { request },
  );
  const t0 = Date.now();
  const waiting = client.call<{ state: string }>(
    'GET',
    `/api/v1/activations/${activation.id}?wait=requested&timeout=20`,
  );
  await new Promise((r) => setTimeout(r, 200));
  const assertion = authenticator.authenticate(options, srv.publicUrl);
  await new ControlPlaneClient(srv.url, null).call(
    'POST',
    `/api/v1/ceremony/activation/${activation.id}`,
    { response: assertion },
    { sign: false },
  );
  assert.equal((await waiting).state, 'active');
  assert.ok(Date.now() - t0 < 15_000, 'answered on the change, not at the 20 s timeout');
});
