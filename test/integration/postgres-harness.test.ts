// The throwaway PostgreSQL the control-plane tests will run on (test/helpers/postgres.ts): a real
// cluster from Debian's postgresql package that node-postgres reaches through the URL it returns,
// listening on loopback only, on a port of its own, as a non-root user; stop() leaves nothing behind,
// and two clusters side by side share neither port nor folder.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { test } from 'vitest';
import { startPostgres, type PostgresCluster } from '../helpers/postgres';

/** The loopback and wildcard addresses listening on `port` (from /proc/net/tcp and tcp6). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || !state) continue;
      const [addr, p] = local.split(':');
      if (addr && p === hexPort && state === '0A') found.push(addr); // 0A: LISTEN
    }
  }
  return found;
}

function uidOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^Uid:\s+(\d+)/m.exec(status);
  assert.ok(m, `no Uid line in /proc/${pid}/status`);
  return Number(m[1]);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test(
  'a throwaway cluster: a real database over its URL, loopback only, not root, gone after stop()',
  { timeout: 60_000 },
  async (t) => {
    const started = Date.now();
    const db = await startPostgres(t);
    if (!db) return;
    process.stderr.write(`postgres harness: cluster ready in ${Date.now() - started} ms\n`);

    assert.match(db.url, new RegExp(`^postgres://postgres@127\\.0\\.0\\.1:${db.port}/pim$`));
    assert.notEqual(db.port, 5432, 'never the system cluster’s port');
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    try {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL UNIQUE)');
        await client.query('INSERT INTO item (name) VALUES ($1), ($2)', ['alpha', 'beta']);
        const inside = await client.query<{ name: string }>('SELECT name FROM item ORDER BY id');
        assert.deepEqual(
          inside.rows.map((r) => r.name),
          ['alpha', 'beta'],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      // committed: another connection from the pool sees it; a rolled-back insert is not seen
      const other = await pool.connect();
      try {
        await other.query('BEGIN');
        await other.query("INSERT INTO item (name) VALUES ('gamma')");
        await other.query('ROLLBACK');
      } finally {
        other.release();
      }
      const after = await pool.query<{ n: string }>('SELECT count(*) AS n FROM item');
      assert.equal(after.rows[0]?.n, '2');
      await assert.rejects(pool.query("INSERT INTO item (name) VALUES ('alpha')"), /duplicate key/);

      const where = await pool.query<{ addr: string; port: number; db: string; listen: string }>(
        "SELECT host(inet_server_addr()) AS addr, inet_server_port() AS port, current_database() AS db, current_setting('listen_addresses') AS listen",
      );
      assert.deepEqual(where.rows[0], { addr: '127.0.0.1', port: db.port, db: 'pim', listen: '127.0.0.1' });
    } finally {
      await pool.end();
    }

    // listening: 127.0.0.1 only (0100007F in /proc/net/tcp), on its own port
    assert.deepEqual(listeners(db.port), ['0100007F']);
    // the postmaster runs as a non-root user
    const uid = uidOf(db.pid);
    assert.notEqual(uid, 0, 'postgres must not run as root');
    assert.notEqual(db.osUser, 'root');
    assert.ok(fs.existsSync(`${db.dir}/data/PG_VERSION`));

    const stopping = Date.now();
    await db.stop();
    process.stderr.write(`postgres harness: cluster stopped and removed in ${Date.now() - stopping} ms\n`);
    assert.equal(fs.existsSync(db.dir), false, 'the folder is removed');
    assert.equal(await refused(db.port), true, 'nothing listens on the port any more');
    assert.deepEqual(listeners(db.port), []);
    await db.stop(); // idempotent (the test's cleanup calls it again)
  },
);

test('two clusters side by side: different ports and folders, separate data', { timeout: 60_000 }, async (t) => {
  const started = Date.now();
  const both = await Promise.all([startPostgres(t), startPostgres(t)]);
  process.stderr.write(`postgres harness: two clusters ready in ${Date.now() - started} ms\n`);
  const [a, b] = both;
  if (!a || !b) return;
  const clusters: PostgresCluster[] = [a, b];
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.dir, b.dir);
  assert.notEqual(a.url, b.url);

  const poolA = new pg.Pool({ connectionString: a.url, max: 2 });
  const poolB = new pg.Pool({ connectionString: b.url, max: 2 });
  const pools = [poolA, poolB];
  try {
    await poolA.query('CREATE TABLE only_in_a (x int)');
    const seen = await Promise.all(
      pools.map((p) => p.query<{ t: string | null }>("SELECT to_regclass('only_in_a')::text AS t")),
    );
    assert.deepEqual(
      seen.map((r) => r.rows[0]?.t),
      ['only_in_a', null],
    );
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
  const stopping = Date.now();
  await Promise.all(clusters.map((c) => c.stop()));
  process.stderr.write(`postgres harness: two clusters stopped in ${Date.now() - stopping} ms\n`);
  for (const c of clusters) assert.equal(fs.existsSync(c.dir), false);
});
