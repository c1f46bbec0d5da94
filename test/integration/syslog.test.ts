// Forwarding the synced audit journals to a real syslog receiver: Debian's rsyslogd with the gtls
// driver on loopback. `pim-server serve --syslog` sends every record as an RFC 5424 message over
// TLS (RFC 5425, octet-counted); rsyslog stopped (cleanly or killed) while records keep arriving,
// then started again, and pim-server itself restarted, still end with every record received once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { chainHash, GENESIS_HASH, type AuditRecord, type ChainedRecord } from '../../shared/audit';
import { canonicalJson } from '../../shared/canonical';
import { ingestBatch } from '../../server/audit/ingest';
import { escapeParamValue, formatRfc5424, frame } from '../../server/audit/syslog';
import { serve } from '../../server/http';
import { openServerDb } from '../../server/store/db';
import { Store } from '../../server/store/store';
import { makeRepo, ROOT } from '../helpers/repo';
import { makeTlsMaterial, startRsyslog, waitFor, type Rsyslog } from '../helpers/rsyslog';
import { requireProgram } from '../helpers/system';

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);
// a user name with every character SD-PARAM escaping is about, and a multi-byte one
const TRICKY_USER = 'a"l]i\\ce@acmé.example';

/** A device's chain from seq `from` to `to`, continuing from `prev`. */
function chain(device: string, from: number, to: number, prev: string, user: string | null): ChainedRecord[] {
  const out: ChainedRecord[] = [];
  for (let seq = from; seq <= to; seq++) {
    const record: AuditRecord = {
      v: 1,
      device,
      seq,
      at: new Date(T0 + seq * 60_000).toISOString(),
      type: seq % 3 === 0 ? 'activation-active' : seq % 5 === 0 ? 'policy-rejected' : 'activation-requested',
      user,
      // one big record (over rsyslog's default 8 KiB, multi-byte) checks the octet count is bytes
      data: {
        role: 'readonly',
        n: seq,
        note: seq === 4 ? 'é✓'.repeat(4000) : `line one\nline two "quoted" ] \\ ${seq}`,
      },
    };
    prev = chainHash(prev, record);
    out.push({ record, hash: prev });
  }
  return out;
}

interface Parsed {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: { id: string; params: Record<string, string> }[];
  msg: string;
}

/** A strict RFC 5424 parser (§6): header, structured data with escapes, MSG. */
function parse5424(line: string): Parsed {
  const m = /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(line);
  assert.ok(m, `not an RFC 5424 header: ${line.slice(0, 200)}`);
  let i = m[0].length;
  const sd: Parsed['sd'] = [];
  if (line[i] === '-') i++;
  else {
    assert.equal(line[i], '[', 'structured data starts with [');
    while (line[i] === '[') {
      i++;
      const id = /^[^ =\]"]+/.exec(line.slice(i))![0];
      i += id.length;
      const params: Record<string, string> = {};
      while (line[i] === ' ') {
        i++;
        const name = /^[^ =\]"]+/.exec(line.slice(i))![0];
        i += name.length;
        assert.equal(line.slice(i, i + 2), '="', `SD-PARAM ${name} has a quoted value`);
        i += 2;
        let value = '';
        for (;;) {
          const c = line[i];
          assert.ok(c !== undefined, 'unterminated SD-PARAM value');
          if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\' || line[i + 1] === ']')) {
            value += line[i + 1];
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else {
            assert.notEqual(c, ']', 'an unescaped ] inside an SD-PARAM value');
            value += c;
            i++;
          }
        }
        params[name] = value;
      }
      assert.equal(line[i], ']', 'SD-ELEMENT ends with ]');
      i++;
      sd.push({ id, params });
    }
  }
  assert.equal(line[i], ' ', 'a space before MSG');
  return {
    pri: Number(m[1]),
    version: Number(m[2]),
    timestamp: m[3]!,
    hostname: m[4]!,
    app: m[5]!,
    procid: m[6]!,
    msgid: m[7]!,
    sd,
    msg: line.slice(i + 1),
  };
}

/** Checks one received line against the records ingested; returns its (device, seq) key. */
function checkLine(line: string, held: Map<string, ChainedRecord & { prev: string }>): string {
  const p = parse5424(line);
  assert.equal(p.version, 1);
  assert.equal(p.pri >> 3, 10, 'facility authpriv');
  assert.ok([4, 5, 6].includes(p.pri & 7), `severity warning/notice/info, got ${p.pri & 7}`);
  assert.match(p.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/);
  assert.match(p.hostname, /^[\x21-\x7e]{1,255}$/);
  assert.equal(p.app, 'pim-server');
  assert.match(p.procid, /^[\x21-\x7e]{1,128}$/);
  assert.equal(p.sd.length, 1);
  const { id, params } = p.sd[0]!;
  assert.equal(id, 'pim@32473');
  const key = `${params.device}/${params.seq}`;
  const expected = held.get(key);
  assert.ok(expected, `a record that was never ingested: ${key}`);
  const record = JSON.parse(p.msg) as AuditRecord;
  assert.equal(p.msg, canonicalJson(record), 'MSG is the canonical record JSON');
  assert.deepEqual(record, expected.record);
  assert.equal(p.msgid, record.type);
  assert.equal(p.timestamp, record.at);
  assert.equal(params.hash, expected.hash);
  assert.equal(chainHash(expected.prev, record), params.hash, 'the chain hash matches the record');
  if (record.user === null) assert.equal(params.user, undefined);
  else assert.equal(params.user, record.user);
  return key;
}

/** `pim-server serve` from source, as its own process; resolves once it reports forwarding. */
async function pimServe(
  args: string[],
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts'), 'serve', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await waitFor(
    () => `pim-server serve did not start forwarding:\n${out}`,
    () => {
      if (child.exitCode !== null) throw new Error(`pim-server serve exited (${child.exitCode}):\n${out}`);
      return /forwarding audit records to syslog/.test(out) ? true : undefined;
    },
    30_000,
  );
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

test('RFC 5424 formatting: PRI, header, escaped structured data, octet-counted framing', () => {
  assert.equal(escapeParamValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  const record: AuditRecord = {
    v: 1,
    device: 'D'.repeat(43),
    seq: 7,
    at: '2026-03-01T09:00:00.000Z',
    type: 'activation-approved',
    user: 'x"]@y',
    data: { s: 'é' },
  };
  const msg = formatRfc5424(
    { device: record.device, seq: 7, hash: 'ab'.repeat(32), record_json: canonicalJson(record) },
    { hostname: 'cp 1', procId: '42' },
  );
  assert.equal(
    msg,
    `<85>1 2026-03-01T09:00:00.000Z cp1 pim-server 42 activation-approved [pim@32473 device="${'D'.repeat(43)}" seq="7" hash="${'ab'.repeat(32)}" user="x\\"\\]@y"] ${canonicalJson(record)}`,
  );
  const framed = frame(msg);
  const len = Buffer.byteLength(msg);
  assert.equal(framed.toString('utf8'), `${len} ${msg}`);
  assert.ok(len > msg.length, 'the count is in bytes, not characters');
});

test(
  'pim-server serve --syslog delivers every record once to rsyslog over TLS, across rsyslog outages and a pim-server restart',
  { timeout: 60_000 },
  async (t) => {
    if (
      !requireProgram(
        t,
        'rsyslogd',
        'the syslog test forwards to a real rsyslog (Debian packages rsyslog and rsyslog-gnutls)',
      )
    )
      return;
    if (!requireProgram(t, 'openssl', 'the syslog test makes a throwaway CA and server certificate')) return;
    const tlsMaterial = makeTlsMaterial();
    let rs: Rsyslog;
    try {
      rs = await startRsyslog(tlsMaterial);
    } catch (e) {
      // rsyslogd without the gtls module (rsyslog-gnutls) fails here
      throw new Error(`rsyslogd with TLS did not start — is rsyslog-gnutls installed? ${(e as Error).message}`);
    }
    const { dir } = makeRepo();
    const db = openServerDb(dir);
    after(() => db.close());
    const audit = new Store(db).audit;

    const held = new Map<string, ChainedRecord & { prev: string }>();
    const heads = new Map<string, { seq: number; hash: string }>();
    const devA = crypto.randomBytes(32).toString('base64url');
    const devB = crypto.randomBytes(32).toString('base64url');
    /** ingests the next n records of the device's chain, as the API would */
    const ingest = (device: string, n: number, user: string | null) => {
      const head = heads.get(device) ?? { seq: 0, hash: GENESIS_HASH };
      const records = chain(device, head.seq + 1, head.seq + n, head.hash, user);
      let prev = head.hash;
      for (const r of records) {
        held.set(`${device}/${r.record.seq}`, { ...r, prev });
        prev = r.hash;
      }
      assert.deepEqual(ingestBatch(audit, device, records, new Date()), { acked: head.seq + n, problem: null });
      heads.set(device, { seq: head.seq + n, hash: prev });
    };
    /** waits until rsyslog holds `n` lines, then checks each and that no (device, seq) repeats */
    const received = async (n: number, context: () => string) => {
      const lines = await waitFor(
        () => `rsyslog received ${rs.lines().length} of ${n} messages\n${context()}\nrsyslogd: ${rs.log()}`,
        () => {
          const l = rs.lines();
          return l.length >= n ? l : undefined;
        },
      );
      const count = new Map<string, number>();
      for (const line of lines) {
        const key = checkLine(line, held);
        count.set(key, (count.get(key) ?? 0) + 1);
      }
      const repeated = [...count].filter(([, c]) => c !== 1);
      assert.deepEqual(repeated, [], 'every record arrives exactly once');
      assert.equal(lines.length, n);
      assert.equal(count.size, held.size, 'every record ingested arrived');
    };
    const cursorAtEnd = () => {
      const max = (db.prepare('SELECT MAX(rowid) AS m FROM audit_records').get() as { m: number }).m;
      const c = db.prepare('SELECT last_rowid FROM syslog_cursor').get() as { last_rowid: number } | undefined;
      return c?.last_rowid === max ? true : undefined;
    };

    ingest(devA, 10, TRICKY_USER);
    ingest(devB, 5, null);
    const serveArgs = [
      dir,
      '--listen',
      '127.0.0.1:0',
      '--syslog',
      `127.0.0.1:${rs.port}`,
      '--syslog-ca',
      tlsMaterial.caCert,
      '--syslog-name',
      'localhost',
    ];
    const srv = await pimServe(serveArgs);
    await received(15, srv.output);
    await waitFor(() => `the cursor did not reach the last record\n${srv.output()}`, cursorAtEnd);

    // 1. rsyslog stopped cleanly for a while; records keep arriving; nothing is lost or repeated
    await rs.stop('SIGTERM');
    ingest(devA, 5, TRICKY_USER);
    ingest(devB, 5, 'bob@acme.example');
    await waitFor(
      () => `pim-server did not notice the outage\n${srv.output()}`,
      () => (/forwarding paused/.test(srv.output()) ? true : undefined),
    );
    await rs.start();
    await received(25, srv.output);
    await waitFor(() => `the cursor did not reach the last record\n${srv.output()}`, cursorAtEnd);

    // 2. rsyslog killed (a crash), the same
    await rs.stop('SIGKILL');
    ingest(devA, 3, TRICKY_USER);
    await waitFor(
      () => `pim-server did not notice the crash\n${srv.output()}`,
      () => ((srv.output().match(/forwarding paused/g) ?? []).length >= 2 ? true : undefined),
    );
    await rs.start();
    await received(28, srv.output);
    await waitFor(() => `the cursor did not reach the last record\n${srv.output()}`, cursorAtEnd);

    // 3. pim-server restarted (in this process, to keep the test short): it resumes from its
    //    durable cursor, without resending what was delivered
    await srv.stop();
    ingest(devB, 2, null);
    const logs: string[] = [];
    const again = await serve(dir, {
      host: '127.0.0.1',
      port: 0,
      keepTimestampFresh: false,
      log: (l) => logs.push(l),
      syslog: { host: '127.0.0.1', port: rs.port, ca: fs.readFileSync(tlsMaterial.caCert), servername: 'localhost' },
    });
    after(() => again.close());
    await received(30, () => logs.join('\n'));
    await waitFor(() => `the cursor did not reach the last record\n${logs.join('\n')}`, cursorAtEnd);
    assert.equal(again.syslog!.status().forwarded, 2);
    // settled: nothing more arrives (later polls find nothing to send)
    await new Promise((res) => setTimeout(res, 700));
    assert.equal(rs.lines().length, 30);
    assert.equal(again.syslog!.status().forwarded, 2);
  },
);
