// The audit view's contract method: this device's journal newest first, filtered by role, with
// the sync state — pending records, the last successful sync, and since when it fails — which
// syncOnce keeps in agent.db (so every host and `pim audit sync` agree).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { AuditViewSchema, type AuditView } from '../../shared/api';
import type { AuditRecord, ChainedRecord } from '../../shared/audit';
import { auditEntry, createDispatch } from '../../agent/api/dispatch';
import { syncOnce } from '../../agent/audit/sync';
import { createDeviceKey, FileKeystore } from '../../agent/keystore';
import { newAgent } from '../helpers/agent';
import { tmpDir } from '../helpers/repo';
import { HeldHashes, trustedAckSigner } from '../helpers/ack-signer';

const USER = 'alice@acme.example';

/** A control plane that acknowledges every batch. */
async function ackingServer(home: string, device: string) {
  let held = 0;
  const hashes = new HeldHashes();
  hashes.device = device;
  const sign = trustedAckSigner(home);
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (value: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, value }));
      };
      if (req.url === '/api/v1/audit/head')
        return reply({ acked: held, signed: sign(device, held, hashes.hash(held)) });
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(
        (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'),
      ) as { records: ChainedRecord[] };
      hashes.see(body.records);
      held = Math.max(held, body.records[body.records.length - 1]!.record.seq);
      reply({ acked: held, problem: null, signed: sign(device, held, hashes.hash(held)) });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

async function view(d: ReturnType<typeof createDispatch>, input: object = {}): Promise<AuditView> {
  const r = await d('auditView', input);
  assert.ok(r.ok, JSON.stringify(r));
  return AuditViewSchema.parse(r.value);
}

test('before enrolment there is no journal: no records, nothing pending', async () => {
  const v = await view(createDispatch(newAgent()));
  assert.deepEqual(v.records, []);
  assert.deepEqual(v.sync, {
    journaling: false,
    last: 0,
    acked: 0,
    pending: 0,
    lastSuccessAt: null,
    failingSince: null,
    lastError: null,
  });
});

test('auditView refuses malformed input with bad-input', async () => {
  const d = createDispatch(newAgent());
  for (const input of [{ role: 'Bad Role' }, { limit: 0 }, { limit: 501 }, { limit: 1.5 }, { role: 'x', extra: 1 }]) {
    const r = await d('auditView', input);
    assert.equal(r.ok ? 'ok' : r.error.code, 'bad-input', JSON.stringify(input));
  }
});

test('records newest first, by role, with the sync state: failing since the first failure, cleared by a success', async () => {
  let now = Date.parse('2025-11-24T10:00:00.000Z');
  const agent = newAgent(tmpDir('pim-home-'), () => new Date(now));
  agent.store.setConnection({ server: 'http://127.0.0.1:9', user: USER, unenrolled: false, demo: false });
  const key = await createDeviceKey(new FileKeystore(agent.home));
  const j = await agent.journal();
  j.begin(key.thumbprint, USER, [
    { type: 'enrolled', data: { server: 'http://127.0.0.1:9', device: key.thumbprint, user: USER } },
  ]);
  j.append('activation-requested', USER, {
    activation: 'a1',
    role: 'gpu-admin',
    kind: 'activate',
    duration: 300,
    request: 'x'.repeat(5000),
  });
  j.append('activation-active', USER, {
    activation: 'a1',
    role: 'gpu-admin',
    expiresAt: '2025-11-24T10:05:00.000Z',
    assertion: { signature: 'sig' },
  });
  j.append('activation-requested', USER, { activation: 'b1', role: 'readonly', kind: 'activate', duration: 3600 });
  const d = createDispatch(agent);

  let v = await view(d);
  assert.deepEqual(
    v.records.map((r) => [r.seq, r.type, r.role]),
    [
      [4, 'activation-requested', 'readonly'],
      [3, 'activation-active', 'gpu-admin'],
      [2, 'activation-requested', 'gpu-admin'],
      [1, 'enrolled', null],
    ],
  );
  assert.equal(v.now, '2025-11-24T10:00:00.000Z', "the agent's clock");
  assert.deepEqual(v.sync, {
    journaling: true,
    last: 4,
    acked: 0,
    pending: 4,
    lastSuccessAt: null,
    failingSince: null,
    lastError: null,
  });
  assert.equal(v.records[1]!.details.keyTouch, true);
  assert.equal(v.records[2]!.details.request, undefined, 'the signed request stays in agent.db');
  assert.deepEqual(
    (await view(d, { role: 'gpu-admin' })).records.map((r) => r.seq),
    [3, 2],
  );
  assert.deepEqual(
    (await view(d, { limit: 2 })).records.map((r) => r.seq),
    [4, 3],
  );
  assert.deepEqual((await view(d, { role: 'nobody' })).records, []);

  // the control plane is away: the failure run starts now and goes on
  await assert.rejects(syncOnce(agent, { key, timeoutMs: 2000 }));
  v = await view(d);
  assert.equal(v.sync.failingSince, '2025-11-24T10:00:00.000Z');
  assert.equal(v.sync.lastError?.code, 'unreachable');
  assert.equal(v.sync.pending, 5, 'the sync-failed record is pending too');
  assert.equal(v.records[0]!.type, 'sync-failed');
  now += 90 * 60_000;
  await assert.rejects(syncOnce(agent, { key, timeoutMs: 2000 }));
  v = await view(d);
  assert.equal(v.sync.failingSince, '2025-11-24T10:00:00.000Z', 'still the first failure of the run');
  assert.equal(v.sync.lastSuccessAt, null);

  // it is back: everything is acknowledged, the failure run ends
  const srv = await ackingServer(agent.home, key.thumbprint);
  try {
    agent.store.setConnection({ server: srv.url, user: USER, unenrolled: false, demo: false });
    now += 60_000;
    await syncOnce(agent, { key });
    v = await view(d);
    assert.equal(v.sync.pending, 0);
    assert.equal(v.sync.acked, v.sync.last);
    assert.equal(v.sync.lastSuccessAt, '2025-11-24T11:31:00.000Z');
    assert.equal(v.sync.failingSince, null);
    assert.equal(v.sync.lastError, null);
    assert.ok(v.records.every((r) => r.synced));
  } finally {
    await srv.close();
  }
});

test('a record for the view: small scalar details, injected items as one line, bulky ones left out', () => {
  const r: AuditRecord = {
    v: 1,
    device: 'D'.repeat(43),
    seq: 5,
    at: '2025-11-24T10:00:00.000Z',
    type: 'credentials-injected',
    user: USER,
    data: {
      activation: 'a1',
      role: 'gpu-admin',
      items: [
        { kind: 'kube', name: 'pim-gpu-train--gpu-admin', where: '/home/alice/.kube/config' },
        { kind: 'aws', name: 'pim-gpu-admin', where: '/home/alice/.aws/config' },
      ],
      note: 'n'.repeat(500),
      nested: { a: 1 },
      assertion: null,
    },
  };
  const e = auditEntry(r, 4);
  assert.equal(e.role, 'gpu-admin');
  assert.equal(e.activation, 'a1');
  assert.equal(e.synced, false);
  assert.equal(e.details.items, 'kube pim-gpu-train--gpu-admin, aws pim-gpu-admin');
  assert.equal(String(e.details.note).length, 200);
  assert.equal(e.details.nested, undefined);
  assert.equal(e.details.keyTouch, false, 'the evidence was not fetched');
  assert.equal(auditEntry(r, 5).synced, true);
});
