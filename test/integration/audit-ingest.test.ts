// Audit sync, the control plane's side, over real HTTP: batches signed by the device key (gzip or
// not) are stored once, only where they continue the device's own chain; the answer is the highest
// contiguous seq held. Gaps, forks, edited and foreign records are refused and flagged, and
// `pim-server audit verify|export` report what is held.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { chainHash, GENESIS_HASH, type AuditRecord, type ChainedRecord } from '../../shared/audit';
import { bodySha256 } from '../../shared/device-jws';
import { ControlPlaneClient, ControlPlaneError } from '../../agent/activation/cp-client';
import { FileKeystore, createDeviceKey, signDeviceRequest, type DeviceKey } from '../../agent/keystore';
import { serve, type RunningServer } from '../../server/http';
import { ackPayload, type SignedAuditAck } from '../../shared/audit-ack';
import { loadKeys } from '../../server/repo/keys';
import { readState } from '../../server/repo/repository';
import { SoftAuthenticator } from '../helpers/soft-authenticator';
import { makeRepo, ROOT, tmpDir } from '../helpers/repo';
import { engUser, readonlyPolicy } from '../helpers/eng-policy';

const POLICY = readonlyPolicy([engUser('alice@acme.example'), engUser('bob@acme.example')]);

interface Ack {
  acked: number;
  problem: { kind: string; seq: number | null; expected?: number } | null;
}

async function servedRepo() {
  const { dir } = makeRepo({ policy: POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  return { dir, srv };
}

/** The enrolledOverHttp pattern of device-auth.test.ts, for any user of POLICY. */
async function enrolOverHttp(srv: RunningServer, email = 'alice@acme.example') {
  const key: DeviceKey = await createDeviceKey(new FileKeystore(tmpDir()));
  const client = new ControlPlaneClient(srv.url, key);
  const { code } = srv.controlPlane.users.add(email, []);
  const started = await client.call<{ id: string; options: never }>('POST', '/api/v1/enrol/start', {
    code,
    deviceJwk: key.publicJwk,
  });
  const authenticator = new SoftAuthenticator();
  const reg = authenticator.register(started.options, srv.publicUrl);
  await new ControlPlaneClient(srv.url, null).call(
    'POST',
    `/api/v1/ceremony/enrol/${started.id}`,
    { response: reg },
    { sign: false },
  );
  assert.equal((await client.call<{ state: string }>('GET', `/api/v1/enrol/${started.id}`)).state, 'complete');
  return { key, client, authenticator };
}

async function setup() {
  const { dir, srv } = await servedRepo();
  repoDir = dir;
  const alice = await enrolOverHttp(srv);
  return { dir, srv, ...alice };
}

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

/** A device's chain, seq 1..n, one record a minute from T0. */
function chain(device: string, n: number, user = 'alice@acme.example'): ChainedRecord[] {
  const out: ChainedRecord[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const record: AuditRecord = {
      v: 1,
      device,
      seq,
      at: new Date(T0 + seq * 60_000).toISOString(),
      type: 'activation-requested',
      user,
      data: { role: 'readonly', n: seq },
    };
    prev = chainHash(prev, record);
    out.push({ record, hash: prev });
  }
  return out;
}

/** records 'from'..'to' (seq, inclusive) */
const seqs = (c: ChainedRecord[], from: number, to: number) => c.slice(from - 1, to);

/** The answer without its signed acknowledgement, after checking that it signs exactly that answer
 *  with the repository's timestamp key (what the agent checks: shared/audit-ack.ts). */
function checkedSigned<T extends { acked: number; signed?: SignedAuditAck }>(dir: string, v: T): Omit<T, 'signed'> {
  const { signed, ...rest } = v;
  assert.ok(signed, 'the answer carries a signed acknowledgement');
  assert.equal(signed.ack.seq, v.acked);
  const ts = readState(dir).roles.timestamp.keyids[0]!;
  const key = loadKeys(dir).get(ts)!;
  const pub = crypto.createPublicKey(key.privateKey);
  assert.ok(
    crypto.verify(null, Buffer.from(ackPayload(signed.ack)), pub, Buffer.from(signed.signatures[0]!.sig, 'hex')),
    'signed by the timestamp key',
  );
  return rest;
}

let repoDir = '';
const send = async (client: ControlPlaneClient, records: unknown[]) =>
  checkedSigned(repoDir, await client.call<Ack & { signed?: SignedAuditAck }>('POST', '/api/v1/audit', { records }));
const head = async (client: ControlPlaneClient) =>
  checkedSigned(
    repoDir,
    await client.call<{ acked: number; hash: string; signed?: SignedAuditAck }>('GET', '/api/v1/audit/head'),
  );

function rows(srv: RunningServer, device?: string): number {
  const row = srv.controlPlane.db
    .prepare('SELECT COUNT(*) AS n FROM audit_records WHERE @d IS NULL OR device = @d')
    .get({ d: device ?? null }) as { n: number };
  return row.n;
}

function flags(srv: RunningServer): { device: string; seq: number | null; kind: string; detail: string }[] {
  return srv.controlPlane.db.prepare('SELECT device, seq, kind, detail FROM audit_flags ORDER BY id').all() as never;
}

/** `pim-server` from source, as a separate process reading the served repository's server.db */
function pimServer(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function postRaw(srv: RunningServer, body: Buffer | string, headers: Record<string, string>) {
  const res = await fetch(`${srv.url}/api/v1/audit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { ok: boolean; value?: Ack; error?: { code: string; message: string } },
  };
}

/** A gzip body signed the way the agent signs it: over the compressed bytes (or over `signOver`). */
async function postGzip(srv: RunningServer, key: DeviceKey, gz: Buffer, signOver: Buffer | string = gz) {
  const jws = await signDeviceRequest(key, { htm: 'POST', htu: '/api/v1/audit', bodySha256: bodySha256(signOver) });
  return postRaw(srv, gz, { 'content-encoding': 'gzip', authorization: `PIM-Device ${jws}` });
}

test('a chain of 50 records is stored and acknowledged up to seq 50, and audit verify finds it intact', async () => {
  const { dir, srv, key, client } = await setup();
  assert.deepEqual(await head(client), { acked: 0, hash: GENESIS_HASH });
  const c = chain(key.thumbprint, 50);
  assert.deepEqual(await send(client, c), { acked: 50, problem: null });
  assert.equal(rows(srv, key.thumbprint), 50);
  // an agent that lost its cursor asks where to resume
  assert.deepEqual(await head(client), { acked: 50, hash: c[49]!.hash });
  const v = pimServer('audit', 'verify', dir);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`device ${key.thumbprint}: 50 records, chain intact`));
  assert.match(v.stdout, /no flagged events/);
});

test('the same batch sent again is acknowledged without storing anything twice', async () => {
  const { srv, key, client } = await setup();
  const c = chain(key.thumbprint, 50);
  await send(client, c);
  assert.deepEqual(await send(client, c), { acked: 50, problem: null });
  assert.equal(rows(srv), 50);
  assert.deepEqual(flags(srv), []);
});

test('a batch overlapping the head stores only the records after it', async () => {
  const { srv, key, client } = await setup();
  const c = chain(key.thumbprint, 60);
  await send(client, seqs(c, 1, 50));
  assert.deepEqual(await send(client, seqs(c, 40, 60)), { acked: 60, problem: null });
  assert.equal(rows(srv), 60);
  const stored = srv.controlPlane.db
    .prepare('SELECT seq, hash FROM audit_records WHERE device = ? ORDER BY seq')
    .all(key.thumbprint) as { seq: number; hash: string }[];
  assert.deepEqual(
    stored.map((r) => r.seq),
    Array.from({ length: 60 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    stored.map((r) => r.hash),
    c.map((r) => r.hash),
  );
});

test('a gap leaves the acknowledgement where it was, is flagged, and makes audit verify fail naming it', async () => {
  const { dir, srv, key, client } = await setup();
  const c = chain(key.thumbprint, 15);
  await send(client, seqs(c, 1, 10));
  const r = await send(client, seqs(c, 13, 15));
  assert.equal(r.acked, 10);
  assert.deepEqual(r.problem, { kind: 'gap', seq: 13, expected: 11 });
  assert.equal(rows(srv), 10, 'nothing past the gap is stored');
  assert.deepEqual(
    flags(srv).map((f) => [f.kind, f.device, f.seq]),
    [['gap', key.thumbprint, 13]],
  );
  // the same bad batch again is not flagged twice
  await send(client, seqs(c, 13, 15));
  assert.equal(flags(srv).length, 1);
  const v = pimServer('audit', 'verify', dir);
  assert.equal(v.code, 1);
  assert.match(v.stdout, new RegExp(`device ${key.thumbprint}: 10 records, chain intact`), 'what is held is intact …');
  assert.match(
    v.stdout,
    new RegExp(`gap\\s+device ${key.thumbprint}\\s+seq 13\\s+expected seq 11`),
    '… and the gap is listed',
  );
  // the missing records arrive: the chain continues
  assert.deepEqual(await send(client, seqs(c, 11, 15)), { acked: 15, problem: null });
});

test('another record for a seq already held is flagged as a fork and changes nothing', async () => {
  const { srv, key, client } = await setup();
  const c = chain(key.thumbprint, 10);
  await send(client, c);
  // a well-linked alternative history from seq 5
  const other: AuditRecord = { ...c[4]!.record, data: { role: 'admin', n: 5 } };
  const fork = { record: other, hash: chainHash(c[3]!.hash, other) };
  const r = await send(client, [...seqs(c, 1, 4), fork, ...seqs(c, 6, 10)]);
  assert.deepEqual(r, { acked: 10, problem: { kind: 'fork', seq: 5 } });
  assert.deepEqual(
    flags(srv).map((f) => [f.kind, f.seq]),
    [['fork', 5]],
  );
  const held = srv.controlPlane.db
    .prepare('SELECT hash FROM audit_records WHERE device = ? AND seq = 5')
    .get(key.thumbprint) as { hash: string };
  assert.equal(held.hash, c[4]!.hash);
  assert.equal(rows(srv), 10);
});

test('a record edited after it was hashed is refused as a broken link, and nothing after it is stored', async () => {
  const { srv, key, client } = await setup();
  const c = chain(key.thumbprint, 15);
  await send(client, seqs(c, 1, 10));
  const edited = seqs(c, 11, 15);
  edited[1] = { record: { ...edited[1]!.record, data: { role: 'admin', n: 12 } }, hash: edited[1]!.hash };
  const r = await send(client, edited);
  assert.deepEqual(r, { acked: 11, problem: { kind: 'broken-link', seq: 12 } });
  assert.equal(rows(srv), 11);
  // the same trick on a record already held: re-sent with its hash, other content
  const again = await send(client, [{ record: { ...c[2]!.record, user: 'mallory@acme.example' }, hash: c[2]!.hash }]);
  assert.deepEqual(again, { acked: 11, problem: { kind: 'broken-link', seq: 3 } });
  assert.deepEqual(
    flags(srv).map((f) => [f.kind, f.seq]),
    [
      ['broken-link', 12],
      ['broken-link', 3],
    ],
  );
});

test('records naming another device are refused, and nothing is stored for either device', async () => {
  const { srv, key, client } = await setup();
  const bob = await enrolOverHttp(srv, 'bob@acme.example');
  const forged = chain(bob.key.thumbprint, 5, 'bob@acme.example');
  const r = await send(client, forged);
  assert.deepEqual(r, { acked: 0, problem: { kind: 'wrong-device', seq: 1 } });
  assert.equal(rows(srv), 0);
  assert.deepEqual(
    flags(srv).map((f) => [f.kind, f.device, f.seq]),
    [['wrong-device', key.thumbprint, 1]],
  );
  assert.match(flags(srv)[0]!.detail, new RegExp(bob.key.thumbprint));
  // bob's own chain is still his to send, from seq 1
  assert.deepEqual(await send(bob.client, forged), { acked: 5, problem: null });
});

test('an invalid record, or an oversized batch, is refused', async () => {
  const { srv, key, client } = await setup();
  const c = chain(key.thumbprint, 3);
  const bad = await send(client, [c[0], { record: { ...c[1]!.record, type: 'made-up' }, hash: c[1]!.hash }]);
  assert.equal(bad.acked, 1);
  assert.equal(bad.problem?.kind, 'invalid');
  assert.equal(bad.problem?.seq, 2);
  await assert.rejects(
    send(
      client,
      Array.from({ length: 5001 }, () => c[2]),
    ),
    (e: ControlPlaneError) => e.status === 413 && e.code === 'batch-too-large',
  );
  await assert.rejects(
    client.call('POST', '/api/v1/audit', { records: 'nope' }),
    (e: ControlPlaneError) => e.status === 400,
  );
  assert.equal(rows(srv), 1);
});

test('an unsigned batch is refused, compressed or not', async () => {
  const { srv, key } = await setup();
  const body = JSON.stringify({ records: chain(key.thumbprint, 3) });
  const plain = await postRaw(srv, body, {});
  assert.equal(plain.status, 401);
  assert.equal(plain.body.error?.code, 'device-signature-required');
  const gz = await postRaw(srv, zlib.gzipSync(body), { 'content-encoding': 'gzip' });
  assert.equal(gz.status, 401);
  const head = await fetch(`${srv.url}/api/v1/audit/head`);
  assert.equal(head.status, 401);
  assert.equal(rows(srv), 0);
});

test('a gzip batch is accepted when the device signature covers the compressed bytes', async () => {
  const { srv, key } = await setup();
  const json = JSON.stringify({ records: chain(key.thumbprint, 20) });
  const gz = zlib.gzipSync(json);
  // signed over the JSON instead of what was sent: refused, nothing stored
  const wrong = await postGzip(srv, key, gz, json);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error?.code, 'device-signature-mismatch');
  assert.equal(rows(srv), 0);
  const ok = await postGzip(srv, key, gz);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(checkedSigned(repoDir, ok.body.value as Ack & { signed?: SignedAuditAck }), {
    acked: 20,
    problem: null,
  });
  assert.equal(rows(srv), 20);
});

test('a gzip bomb is refused with 413 before it is parsed, and broken gzip with 400', async () => {
  const { srv, key } = await setup();
  // valid JSON once inflated (65 MiB of spaces), so only the inflation cap can refuse it
  const bomb = zlib.gzipSync(
    Buffer.concat([Buffer.from('{"records":[]'), Buffer.alloc(65 * 1024 * 1024, 0x20), Buffer.from('}')]),
  );
  assert.ok(bomb.length < 1024 * 1024, 'the bomb itself is small');
  const r = await postGzip(srv, key, bomb);
  assert.equal(r.status, 413);
  assert.equal(r.body.error?.code, 'too-large');
  assert.match(r.body.error.message, /inflates to more than 64 MiB/);
  const broken = await postGzip(srv, key, Buffer.from('not gzip at all'));
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error?.code, 'bad-gzip');
  const jws = await signDeviceRequest(key, { htm: 'POST', htu: '/api/v1/audit', bodySha256: bodySha256('{}') });
  const br = await postRaw(srv, '{}', { 'content-encoding': 'br', authorization: `PIM-Device ${jws}` });
  assert.equal(br.status, 415);
});

test('audit export prints one JSON line per record, ordered by device and seq, filtered by --since and --device', async () => {
  const { dir, srv, key, client } = await setup();
  const bob = await enrolOverHttp(srv, 'bob@acme.example');
  await send(client, chain(key.thumbprint, 5));
  await send(bob.client, chain(bob.key.thumbprint, 3, 'bob@acme.example'));
  const parse = (out: string) =>
    out
      .trimEnd()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { device: string; seq: number; hash: string; record: AuditRecord });

  const all = pimServer('audit', 'export', dir, '--format', 'jsonl');
  assert.equal(all.code, 0, all.stderr);
  const lines = parse(all.stdout);
  const expected = [key.thumbprint, bob.key.thumbprint]
    .sort()
    .flatMap((d) => (d === key.thumbprint ? [1, 2, 3, 4, 5] : [1, 2, 3]).map((seq) => `${d}:${seq}`));
  assert.deepEqual(
    lines.map((l) => `${l.device}:${l.seq}`),
    expected,
  );
  // each line carries the record exactly as hashed
  let prev = new Map<string, string>();
  for (const l of lines) {
    assert.equal(chainHash(prev.get(l.device) ?? GENESIS_HASH, l.record), l.hash);
    assert.equal(l.record.seq, l.seq);
    prev = prev.set(l.device, l.hash);
  }

  const mine = parse(pimServer('audit', 'export', dir, `--device=${key.thumbprint}`, '--format', 'jsonl').stdout);
  assert.deepEqual(
    mine.map((l) => [l.device, l.seq]),
    [1, 2, 3, 4, 5].map((s) => [key.thumbprint, s]),
  );
  const since = new Date(T0 + 3 * 60_000).toISOString(); // records are one a minute: seq 3 onwards
  const recent = parse(pimServer('audit', 'export', dir, '--since', since, '--format', 'jsonl').stdout);
  assert.deepEqual(
    recent.map((l) => `${l.device}:${l.seq}`),
    expected.filter((e) => Number(e.split(':')[1]) >= 3),
  );

  const csv = pimServer('audit', 'export', dir, '--format', 'csv');
  assert.equal(csv.code, 2);
  assert.match(csv.stderr, /only jsonl/);
  assert.equal(csv.stdout, '');
});

test('the evidence of an activation is served to its owner only', async () => {
  const { srv, key, client, authenticator } = await setup();
  const bob = await enrolOverHttp(srv, 'bob@acme.example');
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
  await new ControlPlaneClient(srv.url, null).call(
    'POST',
    `/api/v1/ceremony/activation/${activation.id}`,
    { response: authenticator.authenticate(options, srv.publicUrl) },
    { sign: false },
  );
  const ev = await client.call<{
    request: string;
    requestSha256: string;
    nonce: string;
    assertion: { id: string } | null;
  }>('GET', `/api/v1/activations/${activation.id}/evidence`);
  assert.deepEqual(JSON.parse(ev.request), request);
  assert.equal(ev.assertion?.id, authenticator.credentials()[0]!.id);
  await assert.rejects(
    bob.client.call('GET', `/api/v1/activations/${activation.id}/evidence`),
    (e: ControlPlaneError) => e.status === 404 && e.code === 'not-found',
  );
});
