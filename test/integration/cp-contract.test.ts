// Issue 12: one contract for agent ↔ control plane (shared/contracts/control-plane.ts). The agent
// parses every reply with the route's output schema and refuses one that does not match, naming the
// route and the field; the control plane checks every request's params, query and body against the
// same contract and answers 400 naming the field; and the two sides serve and call the same routes.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { ControlPlaneClient, ControlPlaneContractError, ControlPlaneError } from '../../agent/activation/cp-client';
import { createDeviceKey, FileKeystore, type DeviceKey } from '../../agent/keystore';
import { servedRoutes } from '../../server/api/routes';
import { serve } from '../../server/http';
import { controlPlaneRoutes, pathFor, routeNames } from '../../shared/contracts/control-plane';
import { makeRepo, tmpDir } from '../helpers/repo';
import { activationView } from '../helpers/activation-view';
import { READONLY_POLICY } from '../helpers/eng-policy';
import { SoftAuthenticator } from '../helpers/soft-authenticator';

/** A control plane stand-in that answers every call with `value`, and notes the paths asked for. */
async function standIn(value: unknown) {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, value }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, paths };
}

async function deviceKey(): Promise<DeviceKey> {
  return createDeviceKey(new FileKeystore(tmpDir()));
}

const activation = activationView({
  id: 'act1',
  requestSha256: 'a'.repeat(64),
  createdAt: '2026-01-01T00:00:00.000Z',
  startsAt: '2026-01-01T00:00:10.000Z',
  expiresAt: '2026-01-01T01:00:10.000Z',
});

test('a reply that matches the contract is the parsed value; the path is built from the params, encoded', async () => {
  const cp = await standIn(activation);
  const client = new ControlPlaneClient(cp.url, await deviceKey());
  assert.deepEqual(await client.request('getActivation', { params: { id: 'act1' } }), activation);
  await client.request('getActivation', { params: { id: 'a b' }, query: { wait: 'requested', timeout: '25' } });
  assert.deepEqual(cp.paths, ['/api/v1/activations/act1', '/api/v1/activations/a%20b?wait=requested&timeout=25']);
});

test('a reply that does not match the contract is refused with an error naming the route and the field', async () => {
  const cp = await standIn({ ...activation, state: 'half-active' });
  const client = new ControlPlaneClient(cp.url, await deviceKey());
  await assert.rejects(client.request('getActivation', { params: { id: 'act1' } }), (e: unknown) => {
    assert.ok(e instanceof ControlPlaneContractError);
    assert.ok(e instanceof ControlPlaneError, 'callers that handle control-plane errors handle this one too');
    assert.equal(e.code, 'bad-reply');
    assert.equal(e.route, 'getActivation');
    assert.match(
      e.message,
      /^control plane reply to GET \/api\/v1\/activations\/:id does not match the contract: state: /,
    );
    return true;
  });
  // a list: the failing element and field are named
  const list = await standIn([activation, { ...activation, role: undefined }]);
  await assert.rejects(
    new ControlPlaneClient(list.url, await deviceKey()).request('listActivations', {}),
    /reply to GET \/api\/v1\/activations does not match the contract: 1\.role: /,
  );
  // no value at all
  const none = await standIn(null);
  await assert.rejects(
    new ControlPlaneClient(none.url, await deviceKey()).request('auditHead', {}),
    /reply to GET \/api\/v1\/audit\/head does not match the contract: the value: /,
  );
});

async function enrolledOverHttp() {
  const { dir } = makeRepo({ policy: READONLY_POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const key = await deviceKey();
  const client = new ControlPlaneClient(srv.url, key);
  const { code } = srv.controlPlane.users.add('alice@acme.example', []);
  const started = await client.request('startEnrolment', { body: { code, deviceJwk: key.publicJwk } });
  const { options } = srv.controlPlane.enrolment.ceremony(started.id);
  const reg = new SoftAuthenticator().register(options, srv.publicUrl);
  await new ControlPlaneClient(srv.url, null).request('finishEnrolment', {
    params: { id: started.id },
    body: { response: reg },
  });
  assert.equal((await client.request('enrolmentStatus', { params: { id: started.id } })).state, 'complete');
  return { srv, client };
}

/** what the control plane answers, sent untyped (the contract types would not let these through) */
async function refused(client: ControlPlaneClient, method: 'GET' | 'POST', path: string, body?: unknown, sign = true) {
  return client.call(method, path, body, { sign }).then(
    () => assert.fail(`${method} ${path} was accepted`),
    (e: unknown) => {
      assert.ok(e instanceof ControlPlaneError);
      return { status: e.status, code: e.code, message: e.message };
    },
  );
}

test('the control plane answers 400 bad-input naming the field a request gets wrong', async () => {
  const { srv, client } = await enrolledOverHttp();
  const r1 = await refused(client, 'POST', '/api/v1/approvals/act1', { decision: 'maybe' });
  assert.equal(r1.status, 400);
  assert.equal(r1.code, 'bad-input');
  assert.match(r1.message, /^body\.decision: /);
  // a missing field
  const r2 = await refused(client, 'POST', '/api/v1/activations', {});
  assert.equal(r2.status, 400);
  assert.match(r2.message, /^body\.request: /);
  // a field deep in the signed request
  const r3 = await refused(client, 'POST', '/api/v1/activations', { request: { v: 1, kind: 'activate' } });
  assert.equal(r3.status, 400);
  assert.match(r3.message, /body\.request\.user: /);
  // a body that is not an object
  const r4 = await refused(client, 'POST', '/api/v1/audit', { records: 'nope' });
  assert.deepEqual([r4.status, r4.code], [400, 'bad-input']);
  assert.match(r4.message, /^body\.records: /);
  // a path parameter
  const r5 = await refused(client, 'GET', '/api/v1/activations/not!an!id');
  assert.equal(r5.status, 400);
  assert.match(r5.message, /^params\.id: not an id/);
  // a ceremony call (unsigned) is checked too
  const r6 = await refused(
    new ControlPlaneClient(srv.url, null),
    'POST',
    '/api/v1/ceremony/activation/abc',
    {
      response: 'x',
    },
    false,
  );
  assert.equal(r6.status, 400);
  assert.match(r6.message, /^body\.response: /);
});

test('who is asking is checked before what they ask: an unsigned bad body is 401, not 400', async () => {
  const { srv } = await enrolledOverHttp();
  const res = await fetch(`${srv.url}/api/v1/approvals/act1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'maybe' }),
  });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'device-signature-required');
});

test('the server serves exactly the routes of the contract', async () => {
  assert.deepEqual([...servedRoutes].sort(), [...routeNames].sort());
  // and each is reachable at its path: whatever it answers, it is not "no such API route"
  const { dir } = makeRepo({ policy: READONLY_POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const samples = { id: 'abc', nonce: 'a'.repeat(64) };
  for (const name of routeNames) {
    const spec = controlPlaneRoutes[name];
    const res = await fetch(srv.url + pathFor(spec, samples), {
      method: spec.method,
      headers: spec.method === 'POST' ? { 'content-type': 'application/json' } : {},
      body: spec.method === 'POST' ? '{}' : undefined,
    });
    const body = (await res.json()) as { error?: { message?: string } };
    assert.notEqual(body.error?.message, 'no such API route', `${name}: ${spec.method} ${spec.path}`);
  }
  // a path the contract does not have is not served
  const res = await fetch(`${srv.url}/api/v1/activations/abc/unknown`);
  assert.equal(res.status, 404);
});
