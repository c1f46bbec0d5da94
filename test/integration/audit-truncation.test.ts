// The control plane signs what it acknowledges holding of a device's journal; the agent moves its
// sync cursor only on such a signature and keeps the last one. So deleting the newest, already
// synced records is reported by `pim audit verify`, and a man in the middle cannot move the cursor.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { ackPayload } from '../../shared/audit-ack';
import { cliWorld, ENG_POLICY } from '../helpers/cli-world';
import { PIM, PIM_SERVER, run } from '../helpers/procs';

const env = { PIM_KEYSTORE: 'file' };
const ALICE = 'alice@acme.example';

function agentDb<T>(home: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(home, 'agent.db'));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
const lastSeq = (home: string) =>
  agentDb(home, (db) => (db.prepare('SELECT max(seq) AS n FROM audit').get() as { n: number }).n);
const hashAt = (home: string, seq: number) =>
  agentDb(home, (db) => (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(seq) as { hash: string }).hash);
const cursor = (home: string) =>
  agentDb(home, (db) =>
    Number(
      (db.prepare("SELECT value FROM meta WHERE key = 'audit_acked'").get() as { value: string } | undefined)?.value ??
        0,
    ),
  );

/** Between the agent and the control plane: forwards each call, then `rewrite` may replace the
 *  answer's value (null: pass it on). Keeps every genuine answer it saw. */
async function mitm(upstream: string, rewrite: (genuine: unknown, seen: unknown[]) => unknown) {
  const seen: unknown[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const headers: Record<string, string> = {};
        for (const k of ['authorization', 'content-type', 'content-encoding', 'accept'])
          if (typeof req.headers[k] === 'string') headers[k] = req.headers[k];
        const up = await fetch(upstream + req.url, {
          method: req.method,
          headers,
          body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
        });
        const body = (await up.json()) as { ok: boolean; value?: unknown };
        let out: unknown = body;
        if (body.ok && req.url?.startsWith('/api/v1/audit')) {
          const replaced = rewrite(body.value, seen);
          seen.push(body.value);
          if (replaced !== null) out = { ok: true, value: replaced };
        }
        res.writeHead(up.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
      })().catch((e: unknown) => {
        res.writeHead(502);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    seen,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

function pimAsync(home: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PIM, '--home', home, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

function pointAt(home: string, url: string): void {
  agentDb(home, (db) => {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'connection'").get() as { value: string } | undefined;
    assert.ok(row, 'the agent keeps its connection in meta');
    db.prepare("UPDATE meta SET value = ? WHERE key = 'connection'").run(
      JSON.stringify({ ...JSON.parse(row.value), server: url }),
    );
  });
}

test('truncated journal: deleting the newest, already synced records makes `pim audit verify` fail against the signed head', async () => {
  const { people } = await cliWorld(ENG_POLICY, [[ALICE, '']], env);
  const alice = people[ALICE]!;
  assert.equal(alice.pim('policy', 'refresh').code, 0);
  const sync = alice.pim('audit', 'sync');
  assert.equal(sync.code, 0, sync.stderr);
  const last = lastSeq(alice.home);
  assert.ok(last >= 3, `the journal has records (${last})`);
  assert.equal(cursor(alice.home), last);
  assert.match(alice.pim('audit', 'verify').stdout, /audit journal intact/);

  // the attacker deletes the newest two records (and the triggers that would stop them)
  agentDb(alice.home, (db) => {
    db.exec('DROP TRIGGER audit_no_delete');
    db.prepare('DELETE FROM audit WHERE seq > ?').run(last - 2);
  });
  const v = alice.pim('audit', 'verify');
  assert.equal(v.code, 1, v.stdout);
  assert.match(
    v.stderr,
    new RegExp(
      `the journal was truncated: it ends at record ${last - 2}, but the control plane signed at \\S+ that it holds records up to ${last}`,
    ),
  );
});

test('truncated journal with its signed ack deleted too: `pim audit verify` says it cannot be verified, never "intact"; online the signed head names it', async () => {
  const { people, server } = await cliWorld(ENG_POLICY, [[ALICE, '']], env);
  const alice = people[ALICE]!;
  assert.equal(alice.pim('policy', 'refresh').code, 0);
  assert.equal(alice.pim('audit', 'sync').code, 0);
  const last = lastSeq(alice.home);
  assert.equal(cursor(alice.home), last);

  // the attacker deletes the newest records AND the signed ack kept beside them in agent.db
  agentDb(alice.home, (db) => {
    db.exec('DROP TRIGGER audit_no_delete');
    db.prepare('DELETE FROM audit WHERE seq > ?').run(last - 2);
    db.prepare("DELETE FROM meta WHERE key = 'audit_signed_ack'").run();
  });
  // offline (the control plane's address leads nowhere): locally it cannot be verified — never "intact"
  const upstream = server.match[1]!.replace(/\/$/, '');
  pointAt(alice.home, 'http://127.0.0.1:9');
  const v = alice.pim('audit', 'verify');
  assert.equal(v.code, 1, v.stdout);
  assert.doesNotMatch(v.stdout, /intact/);
  assert.match(
    v.stderr,
    new RegExp(
      `the audit journal cannot be verified: not verifiable: the sync cursor says the control plane holds records up to ${last}, but no signed acknowledgement of them is kept`,
    ),
  );

  // online, the control plane's signed head tells the truth — even with the cursor reset as well
  pointAt(alice.home, upstream);
  agentDb(alice.home, (db) => db.prepare("UPDATE meta SET value = '0' WHERE key = 'audit_acked'").run());
  const online = alice.pim('audit', 'verify');
  assert.equal(online.code, 1, online.stdout);
  assert.match(
    online.stderr,
    new RegExp(
      `the journal was truncated: it ends at record ${last - 2}, but the control plane signed at \\S+ that it holds records up to ${last}`,
    ),
  );
  const sync = alice.pim('audit', 'sync');
  assert.notEqual(sync.code, 0);
  assert.match(
    sync.stderr,
    new RegExp(
      `the control plane holds records up to seq ${last} from this device, but its journal ends at seq ${last - 2}`,
    ),
  );
});

test('signed acks: a man in the middle cannot move the sync cursor — unsigned, signed by another key, or a genuine ack replayed for more', async () => {
  const { people, repo, dir, server } = await cliWorld(ENG_POLICY, [[ALICE, '']], env);
  const alice = people[ALICE]!;
  const upstream = server.match[1]!;
  // asynchronously: the man in the middle runs in this process
  const syncVia = (url: string) => {
    pointAt(alice.home, url);
    return pimAsync(alice.home, 'audit', 'sync');
  };
  const attacker = crypto.generateKeyPairSync('ed25519');

  const attacks: [string, (genuine: unknown, seen: unknown[]) => unknown, RegExp][] = [
    ['unsigned', () => ({ acked: lastSeq(alice.home), problem: null }), /the answer carries no signed acknowledgement/],
    [
      'signed by a key the agent does not trust',
      (genuine) => {
        const g = genuine as { signed: { ack: Record<string, unknown>; signatures: { keyid: string }[] } };
        const ack = { ...g.signed.ack, seq: lastSeq(alice.home), hash: hashAt(alice.home, lastSeq(alice.home)) };
        const sig = crypto.sign(null, Buffer.from(ackPayload(ack as never)), attacker.privateKey).toString('hex');
        return {
          acked: ack.seq,
          problem: null,
          signed: { ack, signatures: [{ keyid: g.signed.signatures[0]!.keyid, sig }] },
        };
      },
      /not signed by the control plane's timestamp key \(0 of 1 valid signatures\)/,
    ],
  ];
  for (const [name, rewrite, why] of attacks) {
    // the attacker replaces the control plane's answer with its own
    const m = await mitm(upstream, (genuine) => rewrite(genuine, []));
    try {
      const before = cursor(alice.home);
      const r = await syncVia(m.url);
      assert.notEqual(r.code, 0, name);
      assert.match(
        r.stderr,
        /the control plane's answer to the audit sync was refused, the sync cursor stays at seq \d+/,
        name,
      );
      assert.match(r.stderr, why, name);
      assert.equal(cursor(alice.home), before, `${name}: the cursor did not move`);
    } finally {
      await m.close();
    }
  }

  // an honest sync through a recording proxy, then new records, then the old genuine ack replayed
  const rec = await mitm(upstream, () => null);
  try {
    const honest = await syncVia(rec.url);
    assert.equal(honest.code, 0, honest.stderr);
  } finally {
    await rec.close();
  }
  pointAt(alice.home, upstream);
  const synced = cursor(alice.home);
  assert.equal(synced, lastSeq(alice.home));
  assert.equal(run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']).code, 0);
  assert.equal(alice.pim('policy', 'refresh').code, 0);
  assert.ok(lastSeq(alice.home) > synced, 'the refresh was journaled');
  const genuine = rec.seen.find((v) => (v as { signed?: { ack: { seq: number } } }).signed?.ack.seq === synced) as {
    signed: unknown;
  };
  assert.ok(genuine, 'a genuine signed ack was captured');
  const replay = await mitm(upstream, () => ({ acked: lastSeq(alice.home), problem: null, signed: genuine.signed }));
  try {
    const r = await syncVia(replay.url);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /does not match the answer/);
    assert.equal(cursor(alice.home), synced);
  } finally {
    await replay.close();
  }
  // and the real control plane moves it
  const ok = await syncVia(upstream);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(cursor(alice.home), lastSeq(alice.home));
});
