// Forwarding the synced audit journals to an existing central log (docs/architecture.md, Flows: Audit journal and
// sync): syslog, RFC 5424 messages over TLS (RFC 5425), with octet-counting framing (RFC 5425 §4.3, RFC 6587 §3.4.1:
// `MSG-LEN SP SYSLOG-MSG`).
//
// Order and cursor. audit_records has no column that orders all devices' records, but it has a
// rowid, and ingest only ever appends (one writer at a time, in one transaction per batch), so
// rowid order is the order records were stored in and a committed rowid is never followed by a
// smaller one. The forwarder reads `WHERE rowid > cursor ORDER BY rowid` and keeps its cursor in
// syslog_cursor (one row per forwarder name), in server.db, so a restart or a syslog outage of any
// length loses nothing: the records wait in audit_records until the cursor passes them. The cursor
// also remembers the (device, seq) of its row: VACUUM may renumber the rowids of a table without an
// INTEGER PRIMARY KEY (in the same order), and the forwarder then finds its place again by that key.
//
// Delivery is at least once, never "at most once". TLS syslog has no application-level
// acknowledgement (RELP has; RFC 5425 does not), so "written" only means the bytes reached our
// kernel. The forwarder therefore:
//   - checks the connection before every batch (a peer that closed or reset it is noticed through
//     'end'/'error' before we write into a dead socket, which would "succeed" once and lose data);
//   - writes a small batch (≤ BATCH_RECORDS records, ≤ BATCH_BYTES bytes) as one TLS write, waits
//     until the write completes, then waits SETTLE_MS more and checks that the connection is still
//     healthy (a receiver killed with our bytes unread answers with a reset, which shows up here);
//   - only then advances the durable cursor, in one transaction, to the batch's last record.
// Any failure before that (write error, reset, close, timeout) drops the connection, and after a
// reconnect (exponential backoff, BACKOFF_MIN_MS … BACKOFF_MAX_MS) the forwarder resends from the
// cursor: the whole unconfirmed batch again.
// What can duplicate: a batch the receiver did process when the connection failed inside that
// window, or when pim-server crashed (or lost power) after the write but before the cursor commit —
// the batch is sent again on the next start. What can still be lost is only what no TCP sender can
// see: a receiver that read the bytes from its socket and died before storing them (RELP exists for
// that). Every message is idempotently identifiable — MSGID is the record type and the structured
// data carries device, seq and hash — so the central log can drop a repeated (device, seq) whose
// hash it already holds, and a (device, seq) with another hash is a fork, not a duplicate.
import os from 'node:os';
import tls from 'node:tls';
import net from 'node:net';
import type { ForwardableRecord, SyslogCursor, SyslogCursorStore } from '../store/syslog-cursor-store';
import { errorMessage } from '../../shared/errors';

/** the IANA private enterprise number in our SD-ID (32473 is the number RFC 5612 reserves for
 *  documentation; a deployment that registers its own can pass `enterpriseId`) */
export const DEFAULT_ENTERPRISE_ID = 32473;
/** authpriv (RFC 5424 table 1): security/authorization messages */
export const FACILITY_AUTHPRIV = 10;
const SEVERITY_WARNING = 4;
const SEVERITY_NOTICE = 5;
const SEVERITY_INFO = 6;

const BATCH_RECORDS = 200;
const BATCH_BYTES = 1 << 20;
const SETTLE_MS = 100;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
const WRITE_TIMEOUT_MS = 30_000;

export interface SyslogTarget {
  host: string;
  port: number;
  /** PEM CA certificate(s) the receiver's certificate must chain to */
  ca: string | Buffer;
  /** the name the receiver's certificate must carry (SNI and identity check); default: host */
  servername?: string;
}

export interface SyslogForwarderOptions extends SyslogTarget {
  /** the cursor's name in syslog_cursor (one cursor per destination) */
  name?: string;
  /** how often to look for new records, ms */
  pollMs?: number;
  /** HOSTNAME field; default os.hostname() */
  hostname?: string;
  enterpriseId?: number;
  settleMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  log?: (line: string) => void;
}

export type StoredRecord = ForwardableRecord;

/** Severity by record type: refusals and sync failures are warnings, routine refreshes info,
 *  everything about access (requests, approvals, activations, credentials, keys) a notice. */
export function severityOf(type: string): number {
  if (type === 'policy-rejected' || type === 'sync-failed') return SEVERITY_WARNING;
  if (type === 'policy-refreshed') return SEVERITY_INFO;
  return SEVERITY_NOTICE;
}

/** SD-PARAM value escaping, RFC 5424 §6.3.3: `"`, `\` and `]` are preceded by a backslash. */
export function escapeParamValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: PRINTUSASCII (33–126) only, at most `max` characters, NILVALUE when empty. */
function headerField(v: string, max: number): string {
  const s = v.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return s || '-';
}

export interface FormatOptions {
  hostname?: string;
  procId?: string;
  enterpriseId?: number;
}

/** One stored audit record as an RFC 5424 message (no framing, no trailing newline):
 *  `<PRI>1 TIMESTAMP HOSTNAME pim-server PROCID MSGID [pim@PEN device seq hash user] MSG`,
 *  TIMESTAMP the record's own time, MSGID its type, MSG the canonical record JSON as stored (UTF-8
 *  without BOM; JSON escapes every control character, so it holds no newline). */
export function formatRfc5424(
  row: Pick<StoredRecord, 'device' | 'seq' | 'hash' | 'record_json'>,
  opts: FormatOptions = {},
): string {
  const record = JSON.parse(row.record_json) as { type?: unknown; at?: unknown; user?: unknown };
  const type = typeof record.type === 'string' ? record.type : 'audit';
  const pri = FACILITY_AUTHPRIV * 8 + severityOf(type);
  const at =
    typeof record.at === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z$/.test(record.at)
      ? record.at
      : new Date().toISOString();
  const params: [string, string][] = [
    ['device', row.device],
    ['seq', String(row.seq)],
    ['hash', row.hash],
  ];
  if (typeof record.user === 'string') params.push(['user', record.user]);
  const sd = `[pim@${opts.enterpriseId ?? DEFAULT_ENTERPRISE_ID}${params.map(([k, v]) => ` ${k}="${escapeParamValue(v)}"`).join('')}]`;
  const hostname = headerField(opts.hostname ?? os.hostname(), 255);
  const procId = headerField(opts.procId ?? String(process.pid), 128);
  return `<${pri}>1 ${at} ${hostname} pim-server ${procId} ${headerField(type, 32)} ${sd} ${row.record_json}`;
}

/** RFC 5425 / RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

type Cursor = SyslogCursor;

export interface ForwarderStatus {
  connected: boolean;
  /** the durable cursor: every record up to this rowid was delivered (as far as TLS can tell) */
  cursor: number;
  /** records delivered since start */
  forwarded: number;
  /** failed connection attempts or writes since start */
  failures: number;
}

export class SyslogForwarder {
  private readonly name: string;
  private readonly pollMs: number;
  private readonly settleMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly log: (line: string) => void;
  private readonly fmt: FormatOptions;
  private sock: tls.TLSSocket | null = null;
  /** why the current connection is unusable (peer closed, reset …), or null while it is healthy */
  private broken: string | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private outage = false;
  private readonly stats = { forwarded: 0, failures: 0 };

  constructor(
    private readonly cursors: SyslogCursorStore,
    private readonly target: SyslogForwarderOptions,
  ) {
    this.name = target.name ?? `${target.host}:${target.port}`;
    this.pollMs = target.pollMs ?? 500;
    this.settleMs = target.settleMs ?? SETTLE_MS;
    this.backoffMinMs = target.backoffMinMs ?? BACKOFF_MIN_MS;
    this.backoffMaxMs = target.backoffMaxMs ?? BACKOFF_MAX_MS;
    this.log = target.log ?? (() => {});
    this.fmt = { hostname: target.hostname, enterpriseId: target.enterpriseId };
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run().catch((e: unknown) => this.log(`syslog: forwarder stopped: ${errorMessage(e)}`));
  }

  /** Look for new records now instead of at the next poll (e.g. right after an ingest). */
  poke(): void {
    this.wake?.();
  }

  status(): ForwarderStatus {
    return { connected: this.sock !== null && this.broken === null, cursor: this.cursor().rowid, ...this.stats };
  }

  /** Finishes the batch in flight (its cursor is committed when it settles), then closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.disconnect(true);
  }

  private async run(): Promise<void> {
    let backoff = this.backoffMinMs;
    while (!this.stopped) {
      const rows = this.pending();
      if (rows.length === 0) {
        await this.sleep(this.pollMs);
        continue;
      }
      try {
        const sock = await this.connection();
        await this.send(sock, rows);
        this.commit(rows[rows.length - 1]!);
        this.stats.forwarded += rows.length;
        backoff = this.backoffMinMs;
        if (this.outage) {
          this.outage = false;
          this.log(`syslog: forwarding to ${this.target.host}:${this.target.port} again`);
        }
      } catch (e) {
        this.stats.failures++;
        await this.disconnect(false);
        if (!this.outage) {
          this.outage = true;
          this.log(
            `syslog: forwarding paused, ${this.target.host}:${this.target.port} unreachable (${errorMessage(e)}); records wait in server.db and are sent from the cursor (rowid ${this.cursor().rowid}) once it is back`,
          );
        }
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.backoffMaxMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  // ---- the cursor ----

  private cursor(): Cursor {
    const r = this.cursors.get(this.name);
    if (r.device === null || r.seq === null) return r;
    // the row the cursor points at should still be (device, seq); after a VACUUM it may have moved
    const at = this.cursors.at(r.rowid);
    if (at && at.device === r.device && at.seq === r.seq) return r;
    const moved = this.cursors.rowidOf(r.device, r.seq);
    if (moved !== undefined) return { ...r, rowid: moved };
    return r; // the record is gone (not something pim-server does): keep going after the old rowid
  }

  private pending(): StoredRecord[] {
    const rows = this.cursors.after(this.cursor().rowid, BATCH_RECORDS);
    let bytes = 0;
    for (let i = 0; i < rows.length; i++) {
      bytes += rows[i]!.record_json.length + 300;
      if (bytes > BATCH_BYTES && i > 0) return rows.slice(0, i);
    }
    return rows;
  }

  private commit(last: StoredRecord): void {
    this.cursors.set(this.name, last, new Date().toISOString());
  }

  // ---- the connection ----

  private connection(): Promise<tls.TLSSocket> {
    if (this.sock && this.broken === null && !this.sock.destroyed && this.sock.writable)
      return Promise.resolve(this.sock);
    if (this.sock) return Promise.reject(new Error(this.broken ?? 'connection closed'));
    const { host, port, ca } = this.target;
    const servername = this.target.servername ?? (net.isIP(host) ? undefined : host);
    return new Promise((resolve, reject) => {
      const sock = tls.connect({ host, port, ca, servername, minVersion: 'TLSv1.2' });
      sock.on('error', () => {}); // reported through `fail` or markBroken, never unhandled
      const timer = setTimeout(
        () => sock.destroy(new Error(`no TLS connection within ${CONNECT_TIMEOUT_MS / 1000} s`)),
        CONNECT_TIMEOUT_MS,
      );
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      sock.once('error', fail);
      sock.once('secureConnect', () => {
        clearTimeout(timer);
        sock.off('error', fail);
        this.sock = sock;
        this.broken = null;
        // syslog receivers send nothing; reading lets us see their FIN (close_notify) or reset
        sock.on('data', () => {});
        sock.on('end', () => this.markBroken(sock, 'the receiver closed the connection'));
        sock.on('error', (e: Error) => this.markBroken(sock, e.message));
        sock.on('close', () => this.markBroken(sock, 'connection closed'));
        sock.setKeepAlive(true, 30_000);
        sock.setNoDelay(true);
        resolve(sock);
      });
    });
  }

  private markBroken(sock: tls.TLSSocket, why: string): void {
    if (sock === this.sock && this.broken === null) this.broken = why;
  }

  private disconnect(graceful: boolean): Promise<void> {
    const sock = this.sock;
    this.sock = null;
    this.broken = null;
    if (!sock || sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      sock.once('close', () => resolve());
      if (graceful) {
        sock.end();
        setTimeout(() => sock.destroy(), 2000).unref();
      } else sock.destroy();
    });
  }

  /** One write for the batch, then the settle window; rejects when the connection fails. */
  private send(sock: tls.TLSSocket, rows: StoredRecord[]): Promise<void> {
    const bytes = Buffer.concat(rows.map((r) => frame(formatRfc5424(r, this.fmt))));
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (e?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        clearInterval(watch);
        if (e) reject(e);
        else resolve();
      };
      const timeout = setTimeout(
        () => finish(new Error(`the write did not complete within ${WRITE_TIMEOUT_MS / 1000} s`)),
        WRITE_TIMEOUT_MS,
      );
      // a failure seen while waiting (reset, close) fails the batch: it is sent again
      const watch = setInterval(() => {
        if (this.broken !== null) finish(new Error(this.broken));
      }, 10);
      if (this.broken !== null) return finish(new Error(this.broken));
      sock.write(bytes, (err) => {
        if (err) return finish(err);
        setTimeout(
          () =>
            finish(this.broken !== null || sock.destroyed ? new Error(this.broken ?? 'connection closed') : undefined),
          this.settleMs,
        );
      });
    });
  }
}
