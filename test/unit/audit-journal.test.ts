// The agent's audit journal in agent.db: appends chain, verify names whatever was edited, deleted,
// moved or inserted, the sync cursor only moves forward, a journal that cannot be written refuses
// new activations, and sync sends gzip batches and follows only the server's acknowledgement.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'vitest';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { decodeJwt } from 'jose';
import { bodySha256 } from '../../shared/device-jws';
import { chainHash, type AuditRecord, type ChainedRecord } from '../../shared/audit';
import { ActivationService } from '../../agent/activation/service';
import { Journal, JournalError } from '../../agent/audit/journal';
import { AuditSyncer, AuditSyncError, syncOnce } from '../../agent/audit/sync';
import { createDeviceKey, FileKeystore, type DeviceKey } from '../../agent/keystore';
import { openDb } from '../../agent/store/db';
import { newAgent } from '../helpers/agent';
import { HeldHashes, trustedAckSigner } from '../helpers/ack-signer';
import { publishPolicy } from '../../server/repo/repository';
import { makeRepo, restoreMetadata, serveRepo, SMALL_POLICY, snapshotMetadata, tmpDir } from '../helpers/repo';

const USER = 'alice@acme.example';
const DEVICE = 'D'.repeat(43);

async function journalWith(n: number, device = DEVICE) {
  const agent = newAgent();
  agent.store.setConnection({ server: 'http://127.0.0.1:1', user: USER, unenrolled: false, demo: false });
  const j = await agent.journal();
  j.begin(device, USER, [{ type: 'enrolled', data: { server: 'http://127.0.0.1:1', device, user: USER } }]);
  for (let i = 2; i <= n; i++)
    j.append(i % 2 ? 'activation-requested' : 'activation-active', USER, {
      activation: `act${i}`,
      role: i % 2 ? 'readonly' : 'admin',
      duration: 3600,
    });
  return { agent, j, home: agent.home };
}

/** What someone with write access to agent.db does: a second connection, the guard triggers dropped. */
function tamper(home: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path.join(home, 'agent.db'));
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_append_only; DROP TRIGGER IF EXISTS audit_no_delete;');
    fn(db);
  } finally {
    db.close();
  }
}

test('appends chain from record 1 (enrolled), and an intact journal verifies', async () => {
  const { j } = await journalWith(6);
  const all = j.list();
  assert.deepEqual(
    all.map((r) => r.record.seq),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(all[0]!.record.type, 'enrolled');
  assert.equal(all[1]!.hash, chainHash(all[0]!.hash, all[1]!.record));
  assert.match(all[0]!.record.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(j.verify(), { ok: true, count: 6, device: DEVICE, problem: null, message: null });
  assert.deepEqual(
    j.list({ role: 'admin' }).map((r) => r.record.seq),
    [2, 4, 6],
  );
  assert.deepEqual(
    j.list({ type: 'activation-requested', limit: 1 }).map((r) => r.record.seq),
    [5],
  );
  assert.deepEqual(
    j.pending(4).map((r) => r.record.seq),
    [5, 6],
  );
  assert.equal(j.has('act4', 'activation-active'), true);
  assert.equal(j.has('act4', 'activation-expired'), false);
});

test('before enrolment there is no chain: nothing can be appended and verify has nothing to check', async () => {
  const agent = newAgent();
  const j = await agent.journal();
  assert.equal(j.device(), null);
  assert.throws(
    () => j.append('policy-refreshed', USER, {}),
    (e: unknown) => e instanceof JournalError && e.code === 'journal-not-started',
  );
  assert.deepEqual(j.verify(), { ok: true, count: 0, device: null, problem: null, message: null });
  assert.equal(await agent.activeJournal(), null);
});

test('the agent itself cannot rewrite or delete a record (append-only guard)', async () => {
  const { j } = await journalWith(3);
  assert.throws(() => j.db.prepare("UPDATE audit SET record_json = '{}' WHERE seq = 2").run(), /append-only/);
  assert.throws(() => j.db.prepare('DELETE FROM audit WHERE seq = 3').run(), /append-only/);
});

test('an edited record is named: "record 3 was altered (broken link)"', async () => {
  const { j, home } = await journalWith(5);
  tamper(home, (db) =>
    db.prepare(`UPDATE audit SET record_json = replace(record_json, '"readonly"', '"root"') WHERE seq = 3`).run(),
  );
  const v = j.verify();
  assert.equal(v.ok, false);
  assert.deepEqual(v.problem, { kind: 'broken-link', seq: 3 });
  assert.equal(v.message, 'record 3 was altered (broken link)');
});

test('an edited hash breaks the link too', async () => {
  const { j, home } = await journalWith(5);
  tamper(home, (db) => db.prepare(`UPDATE audit SET hash = ? WHERE seq = 4`).run('f'.repeat(64)));
  assert.equal(j.verify().message, 'record 4 was altered (broken link)');
});

test('a deleted record is named as missing', async () => {
  const { j, home } = await journalWith(5);
  tamper(home, (db) => db.prepare('DELETE FROM audit WHERE seq = 3').run());
  const v = j.verify();
  assert.deepEqual(v.problem, { kind: 'gap', seq: 4, expected: 3 });
  assert.match(v.message!, /^record 3 is missing/);
});

test('two swapped records are detected at the first of them', async () => {
  const { j, home } = await journalWith(5);
  tamper(home, (db) => {
    const a = db.prepare('SELECT record_json, hash FROM audit WHERE seq = 2').get() as {
      record_json: string;
      hash: string;
    };
    const b = db.prepare('SELECT record_json, hash FROM audit WHERE seq = 3').get() as {
      record_json: string;
      hash: string;
    };
    db.prepare('UPDATE audit SET record_json = ?, hash = ? WHERE seq = 2').run(b.record_json, b.hash);
    db.prepare('UPDATE audit SET record_json = ?, hash = ? WHERE seq = 3').run(a.record_json, a.hash);
  });
  const v = j.verify();
  assert.equal(v.ok, false);
  assert.equal(v.problem!.seq, 3);
  assert.match(v.message!, /record 2 is missing \(the next one is record 3\)/);
});

test('swapping only the record JSON of two rows is detected too', async () => {
  const { j, home } = await journalWith(5);
  tamper(home, (db) => {
    const a = (db.prepare('SELECT record_json FROM audit WHERE seq = 4').get() as { record_json: string }).record_json;
    const b = (db.prepare('SELECT record_json FROM audit WHERE seq = 5').get() as { record_json: string }).record_json;
    db.prepare('UPDATE audit SET record_json = ? WHERE seq = 4').run(b);
    db.prepare('UPDATE audit SET record_json = ? WHERE seq = 5').run(a);
  });
  const v = j.verify();
  assert.equal(v.ok, false);
  assert.match(v.message!, /record 4/);
});

test('an inserted record is detected, even one that links correctly to the record before it', async () => {
  const { j, home } = await journalWith(5);
  tamper(home, (db) => {
    const two = db.prepare('SELECT record_json, hash FROM audit WHERE seq = 2').get() as {
      record_json: string;
      hash: string;
    };
    const forged: AuditRecord = {
      ...(JSON.parse(two.record_json) as AuditRecord),
      seq: 3,
      type: 'activation-deactivated',
      data: { activation: 'act2', role: 'admin' },
    };
    for (const seq of [5, 4, 3]) db.prepare('UPDATE audit SET seq = seq + 1 WHERE seq = ?').run(seq);
    db.prepare('INSERT INTO audit (seq, at, type, record_json, hash) VALUES (3, ?, ?, ?, ?)').run(
      forged.at,
      forged.type,
      JSON.stringify(forged),
      chainHash(two.hash, forged),
    );
  });
  const v = j.verify();
  assert.deepEqual(v.problem, { kind: 'gap', seq: 3, expected: 4 });
  assert.equal(v.message, 'record 3 appears again where record 4 belongs: records were inserted, duplicated or moved');
});

test('a record appended behind the agent\u2019s back with a made-up hash is named', async () => {
  const { j, home } = await journalWith(4);
  tamper(home, (db) => {
    const r: AuditRecord = {
      v: 1,
      device: DEVICE,
      seq: 5,
      at: new Date().toISOString(),
      type: 'approval-given',
      user: USER,
      data: { activation: 'x', decision: 'approve' },
    };
    db.prepare('INSERT INTO audit (seq, at, type, record_json, hash) VALUES (5, ?, ?, ?, ?)').run(
      r.at,
      r.type,
      JSON.stringify(r),
      'a'.repeat(64),
    );
  });
  assert.equal(j.verify().message, 'record 5 was altered (broken link)');
});

test('a row whose indexed columns disagree with its record is named', async () => {
  const { j, home } = await journalWith(3);
  tamper(home, (db) => db.prepare("UPDATE audit SET type = 'policy-refreshed' WHERE seq = 2").run());
  const v = j.verify();
  assert.equal(v.problem?.kind, 'invalid');
  assert.match(v.message!, /^record 2 is not a valid audit record \(its row/);
});

test('the sync cursor only moves forward, never past the last record, and survives a restart', async () => {
  const { agent, j, home } = await journalWith(5);
  assert.equal(j.acked(), 0);
  j.setAcked(3);
  j.setAcked(2);
  assert.equal(j.acked(), 3);
  assert.throws(() => j.setAcked(6), RangeError);
  assert.throws(() => j.setAcked(-1), RangeError);
  assert.equal(j.acked(), 3);
  agent.close();
  const again = newAgent(home);
  assert.equal((await again.journal()).acked(), 3);
  assert.equal((await again.journal()).verify().count, 5);
});

test('a new device key starts a new chain; the old one is kept aside', async () => {
  const { j } = await journalWith(3);
  j.setAcked(3);
  const other = 'E'.repeat(43);
  const [first] = j.begin(other, USER, [{ type: 'enrolled', data: { device: other } }]);
  assert.equal(first!.seq, 1);
  assert.equal(first!.device, other);
  assert.equal(j.acked(), 0);
  assert.equal(j.verify().ok, true);
  assert.equal(
    (j.db.prepare('SELECT count(*) AS n FROM audit_retired WHERE device = ?').get(DEVICE) as { n: number }).n,
    3,
  );
});

test('a journal that cannot be written throws a JournalError saying why', async () => {
  const { agent, home } = await journalWith(2);
  // read-only
  const ro = new Database(path.join(home, 'agent.db'), { readonly: true });
  try {
    assert.throws(
      () => new Journal(ro).append('policy-refreshed', USER, { version: 2 }),
      (e: unknown) =>
        e instanceof JournalError &&
        e.code === 'journal-unavailable' &&
        /agent\.db is read-only.*new activations are refused/.test(e.message),
    );
  } finally {
    ro.close();
  }
  // closed
  const j = await agent.journal();
  agent.close();
  assert.throws(
    () => j.append('policy-refreshed', USER, {}),
    (e: unknown) => e instanceof JournalError && /agent\.db is closed/.test(e.message),
  );
});

test('a record that would not be valid is refused, not written', async () => {
  const { j } = await journalWith(1);
  assert.throws(
    () => j.append('sync-failed', USER, { message: 'x'.repeat(100_001) }),
    (e: unknown) => e instanceof JournalError && e.code === 'journal-invalid',
  );
  assert.equal(j.count(), 1);
});

test('while the journal cannot be written, an activation request is refused before anything is sent', async () => {
  const { dir, trustRoot } = makeRepo({ policy: SMALL_POLICY });
  const server = await serveRepo(dir);
  const prev = process.env.PIM_KEYSTORE;
  process.env.PIM_KEYSTORE = 'file';
  try {
    const agent = newAgent();
    agent.connect({ server: server.url, user: USER, root: trustRoot, unenrolled: false });
    await agent.refresh();
    const key = await createDeviceKey(new FileKeystore(agent.home));
    (await agent.journal()).begin(key.thumbprint, USER, [
      { type: 'enrolled', data: { server: server.url, device: key.thumbprint, user: USER } },
    ]);
    const svc = new ActivationService(agent);
    // another process holds agent.db's write lock
    const other = new Database(path.join(agent.home, 'agent.db'));
    other.exec('BEGIN IMMEDIATE');
    agent.store.db.pragma('busy_timeout = 50');
    try {
      await assert.rejects(
        svc.request('ops-admin', { duration: 600, justification: 'INC-1' }),
        (e: unknown) =>
          e instanceof JournalError &&
          /the audit journal cannot be written \(agent\.db is locked by another process\): new activations are refused/.test(
            e.message,
          ),
      );
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(
      (agent.store.db.prepare('SELECT count(*) AS n FROM activations').get() as { n: number }).n,
      0,
      'nothing was sent',
    );
    assert.equal((await agent.journal()).count(), 1, 'and nothing was journaled');
  } finally {
    if (prev === undefined) delete process.env.PIM_KEYSTORE;
    else process.env.PIM_KEYSTORE = prev;
  }
});

test('an unchanged policy refresh is journaled at most hourly; a demo (--user) agent journals nothing', async () => {
  const { dir, trustRoot } = makeRepo({ policy: SMALL_POLICY });
  const server = await serveRepo(dir);
  const demo = newAgent();
  demo.connect({ server: server.url, user: USER, root: trustRoot, unenrolled: true });
  await demo.refresh();
  assert.equal((await demo.journal()).count(), 0);

  const agent = newAgent();
  agent.connect({ server: server.url, user: USER, root: trustRoot, unenrolled: false });
  (await agent.journal()).begin(DEVICE, USER, [{ type: 'enrolled', data: {} }]);
  await agent.refresh();
  await agent.refresh();
  const recs = (await agent.journal()).list({ type: 'policy-refreshed' });
  assert.equal(recs.length, 1);
  assert.deepEqual(recs[0]!.record.data, { version: 1, expires: recs[0]!.record.data.expires, changed: true });
});

test('a refused policy (rollback attack) is journaled with its reason, once per code and version; offline is not', async () => {
  const { dir, trustRoot } = makeRepo({ policy: SMALL_POLICY });
  const v1 = snapshotMetadata(dir);
  publishPolicy(dir, SMALL_POLICY);
  const server = await serveRepo(dir);
  const agent = newAgent();
  agent.connect({ server: server.url, user: USER, root: trustRoot, unenrolled: false });
  const j = await agent.journal();
  j.begin(DEVICE, USER, [{ type: 'enrolled', data: {} }]);
  assert.equal((await agent.refresh()).version, 2);
  restoreMetadata(dir, v1);
  await assert.rejects(agent.refresh(), { code: 'rollback' });
  await assert.rejects(agent.refresh(), { code: 'rollback' });
  const rejected = j.list({ type: 'policy-rejected' });
  assert.equal(rejected.length, 1, 'the same refusal is journaled once');
  assert.equal(rejected[0]!.record.data.code, 'rollback');
  assert.equal(rejected[0]!.record.data.version, 2);
  assert.match(String(rejected[0]!.record.data.message), /rollback/);
  await server.close();
  await assert.rejects(agent.refresh(), { kind: 'offline' });
  assert.deepEqual(
    j.list().map((r) => r.record.type),
    ['enrolled', 'policy-refreshed', 'policy-rejected'],
  );
});

// --- sync ------------------------------------------------------------------------------------

interface Received {
  records: ChainedRecord[];
  gzip: boolean;
  bshMatches: boolean;
}

/** A stand-in control plane for /api/v1/audit: `answer` decides the reply from what it holds. */
async function stubServer(answer: (held: number, batch: ChainedRecord[]) => { acked: number; problem: unknown }) {
  const got: Received[] = [];
  let held = 0;
  const hashes = new HeldHashes();
  let sign: ReturnType<typeof trustedAckSigner> | null = null;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const reply = (value: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, value }));
      };
      if (req.url === '/api/v1/audit/head')
        return reply({ acked: held, signed: sign?.(hashes.device, held, hashes.hash(held)) });
      const gzip = req.headers['content-encoding'] === 'gzip';
      const body = JSON.parse((gzip ? gunzipSync(raw) : raw).toString('utf8')) as { records: ChainedRecord[] };
      const jws = String(req.headers.authorization).replace(/^PIM-Device /, '');
      got.push({ records: body.records, gzip, bshMatches: decodeJwt(jws).bsh === bodySha256(raw) });
      hashes.see(body.records);
      const a = answer(held, body.records);
      held = Math.max(held, a.acked);
      reply({ ...a, signed: sign?.(hashes.device, a.acked, hashes.hash(a.acked)) });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  // signs its answers with a key the agent at `home` trusts, as the real control plane does
  const trust = (home: string, device: string) => {
    sign = trustedAckSigner(home);
    hashes.device = device;
  };
  return { url, got, trust, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

async function syncSetup(
  n: number,
  url: string,
  trust?: (home: string, device: string) => void,
): Promise<{ agent: ReturnType<typeof newAgent>; j: Journal; key: DeviceKey }> {
  const agent = newAgent();
  agent.store.setConnection({ server: url, user: USER, unenrolled: false, demo: false });
  const key = await createDeviceKey(new FileKeystore(agent.home));
  trust?.(agent.home, key.thumbprint);
  const j = await agent.journal();
  j.begin(key.thumbprint, USER, [{ type: 'enrolled', data: { device: key.thumbprint } }]);
  for (let i = 2; i <= n; i++) j.append('activation-requested', USER, { activation: `a${i}`, role: 'readonly' });
  return { agent, j, key };
}

test('sync sends gzip batches whose signature covers the compressed bytes, and follows the acks', async () => {
  const s = await stubServer((_held, batch) => ({ acked: batch[batch.length - 1]!.record.seq, problem: null }));
  try {
    const { agent, j, key } = await syncSetup(1203, s.url, s.trust);
    const r = await syncOnce(agent, { key });
    assert.deepEqual(r, { sent: 1203, acked: 1203, pending: 0 });
    assert.deepEqual(
      s.got.map((g) => g.records.length),
      [1000, 203],
    );
    assert.ok(s.got.every((g) => g.gzip && g.bshMatches));
    assert.equal(j.acked(), 1203);
    const again = await syncOnce(agent, { key });
    assert.deepEqual(again, { sent: 0, acked: 1203, pending: 0 });
    assert.equal(s.got.length, 2, 'nothing pending: only the head was asked');
  } finally {
    await s.close();
  }
});

test('the cursor advances only to what the server acknowledges', async () => {
  // a server that takes at most 3 new records per batch
  const s = await stubServer((held, batch) => ({
    acked: Math.min(held + 3, batch[batch.length - 1]!.record.seq),
    problem: null,
  }));
  try {
    const { agent, j, key } = await syncSetup(7, s.url, s.trust);
    const r = await syncOnce(agent, { key });
    assert.equal(r.acked, 7);
    assert.deepEqual(
      s.got.map((g) => g.records[0]!.record.seq),
      [1, 4, 7],
    );
    assert.equal(j.acked(), 7);
  } finally {
    await s.close();
  }
});

test('a server ahead of the journal, or naming a problem, is surfaced (not retried forever) and journaled once an hour', async () => {
  const ahead = await stubServer(() => ({ acked: 50, problem: null }));
  try {
    const { agent, j, key } = await syncSetup(3, ahead.url, ahead.trust);
    await assert.rejects(
      syncOnce(agent, { key }),
      (e: unknown) =>
        e instanceof AuditSyncError &&
        e.code === 'server-ahead' &&
        /holds records up to seq 50.*ends at seq 3/.test(e.message),
    );
    assert.equal(j.acked(), 0);
    await assert.rejects(syncOnce(agent, { key }), AuditSyncError);
    assert.equal(j.list({ type: 'sync-failed' }).length, 1, 'journaled once, not per attempt');
    assert.equal(ahead.got.length, 2);
  } finally {
    await ahead.close();
  }
  const problem = await stubServer(() => ({ acked: 2, problem: { kind: 'broken-link', seq: 3 } }));
  try {
    const { agent, j, key } = await syncSetup(5, problem.url, problem.trust);
    await assert.rejects(
      syncOnce(agent, { key }),
      (e: unknown) =>
        e instanceof AuditSyncError && e.code === 'server-problem' && /record 3 was altered/.test(e.message),
    );
    assert.equal(j.acked(), 2);
    assert.equal(problem.got.length, 1);
  } finally {
    await problem.close();
  }
});

test('an unreachable control plane: the error is thrown and journaled as sync-failed', async () => {
  const { agent, j, key } = await syncSetup(2, 'http://127.0.0.1:9');
  await assert.rejects(syncOnce(agent, { key }), /cannot reach the control plane/);
  const [f] = j.list({ type: 'sync-failed' });
  assert.equal(f!.record.data.code, 'unreachable');
});

test('the background syncer syncs at start and soon after an append', async () => {
  const { agent, j } = await syncSetup(2, 'http://127.0.0.1:9');
  const calls: number[] = [];
  const syncer = new AuditSyncer(agent, {
    debounceMs: 20,
    intervalMs: 60_000,
    sync: async () => {
      calls.push(j.head().seq);
      j.setAcked(j.head().seq);
      return { sent: 0, acked: j.head().seq, pending: 0 };
    },
  });
  syncer.start();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(calls, [2]);
  j.append('policy-refreshed', USER, { version: 2 });
  j.append('policy-refreshed', USER, { version: 3 });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(calls, [2, 4], 'two appends, one sync');
  syncer.stop();
});

test('agent.db opens with the audit tables at the latest schema', () => {
  const db = openDb(tmpDir());
  try {
    assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'audit'").get());
  } finally {
    db.close();
  }
});
