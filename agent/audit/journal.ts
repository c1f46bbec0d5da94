// The agent's audit journal (docs/architecture.md, Flows: Audit journal and sync): a table in agent.db holding one hash
// chain, that of this device (its device key's thumbprint), in the record format of shared/audit.ts:
//   seq strictly increasing from 1, hash(n) = SHA-256(hash(n-1) ‖ JCS(record n)).
//
// The chain starts at enrolment: before it there is no device key, so nothing is journaled, and
// `enrolled` is record 1 (with `keystore-changed` for the device key the enrolment created right
// after it). The `pim connect --user` demo path never starts a chain. Should the device key ever be
// replaced, the old chain moves to audit_retired (kept, no longer synced) and a new one starts.
//
// Each append is its own IMMEDIATE transaction (or part of the caller's), and agent.db runs with
// synchronous=FULL, so a record is on disk when append returns: callers append before they report
// what the record describes. Whatever keeps a record from being written throws a JournalError.
import {
  AUDIT_TYPES,
  AuditRecordSchema,
  chainHash,
  GENESIS_HASH,
  verifyChain,
  type AuditRecord,
  type AuditType,
  type ChainedRecord,
  type ChainProblem,
} from '../../shared/audit';
import { SignedAuditAckSchema, type SignedAuditAck } from '../../shared/audit-ack';
import { PimError, errorCode, errorMessage } from '../../shared/errors';
import type { Db } from '../store/db';

export type JournalErrorCode = 'journal-unavailable' | 'journal-not-started' | 'journal-invalid';

export class JournalError extends PimError<JournalErrorCode> {}

export type AuditData = Record<string, unknown>;

/** The journal ends before, or differs at, the head the control plane signed that it holds. */
export interface TruncationProblem {
  kind: 'truncated';
  seq: number;
  /** the signed acknowledgement's seq and time */
  acked: number;
  at: string;
}

/** The sync cursor says the control plane holds records, but no signed acknowledgement of them
 *  (or only an older one) is kept: whether the newest records were deleted cannot be told. */
export interface UnverifiableProblem {
  kind: 'unverifiable';
  seq: number;
  /** the sync cursor */
  acked: number;
  /** the seq of the signed acknowledgement kept for this device, or null */
  signed: number | null;
}

export interface VerifyResult {
  ok: boolean;
  /** records checked */
  count: number;
  /** whose chain it is (null: no chain yet, not enrolled) */
  device: string | null;
  problem: ChainProblem | TruncationProblem | UnverifiableProblem | null;
  /** the problem in words, e.g. "record 17 was altered (broken link)" */
  message: string | null;
}

/** How sending the journal went, kept in agent.db (every host and `pim audit sync` share it). */
export interface SyncOutcome {
  lastSuccessAt: string | null;
  /** the first failure since the last success */
  failingSince: string | null;
  lastError: { code: string; message: string } | null;
}

export interface ListOptions {
  /** the most recent `limit` records (default 100), oldest first */
  limit?: number;
  type?: string;
  /** records whose data.role is this role */
  role?: string;
}

interface Row {
  seq: number;
  at: string;
  type: string;
  record_json: string;
  hash: string;
}

const META_DEVICE = 'audit_device';
const META_ACKED = 'audit_acked';
const META_PENDING_KEY = 'audit_pending_key';
/** how syncing went: { lastSuccessAt, failingSince, lastError } (see syncOutcome) */
const META_SYNC = 'audit_sync';
/** the last acknowledgement the control plane signed (shared/audit-ack.ts), JSON */
const META_SIGNED_ACK = 'audit_signed_ack';
const HEX64 = /^[0-9a-f]{64}$/;

/** The words for a chain problem, naming the record. */
export function describeProblem(p: ChainProblem): string {
  switch (p.kind) {
    case 'broken-link':
      return `record ${p.seq} was altered (broken link)`;
    case 'gap':
      return p.seq > p.expected
        ? `record ${p.expected} is missing (the next one is record ${p.seq}): records were deleted or moved`
        : `record ${p.seq} appears again where record ${p.expected} belongs: records were inserted, duplicated or moved`;
    case 'wrong-device':
      return `record ${p.seq} belongs to another device's chain`;
    case 'invalid':
      return `${p.seq === null ? 'a record' : `record ${p.seq}`} is not a valid audit record (${p.message})`;
  }
}

/** SQLite's failures, in words for the person who has to fix them. */
function reasonOf(e: unknown): string {
  const code = errorCode(e) ?? '';
  const msg = errorMessage(e);
  if (code.startsWith('SQLITE_FULL')) return 'the disk is full';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return 'agent.db is locked by another process';
  if (code.startsWith('SQLITE_READONLY')) return 'agent.db is read-only';
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) return 'agent.db is corrupt';
  if (code.startsWith('SQLITE_IOERR')) return `a disk error (${code})`;
  if (code.startsWith('SQLITE_CANTOPEN')) return 'agent.db cannot be opened';
  if (/database connection is not open/i.test(msg)) return 'agent.db is closed';
  return msg;
}

function unavailable(e: unknown): JournalError {
  if (e instanceof JournalError) return e;
  return new JournalError(
    'journal-unavailable',
    `the audit journal cannot be written (${reasonOf(e)}): new activations are refused until it can be`,
  );
}

/** JSON-only copy: drops undefined members (JSON has none) so the record validates and hashes as sent. */
function plain(data: AuditData): AuditData {
  return JSON.parse(JSON.stringify(data)) as AuditData;
}

/** Thrown inside a transaction only to undo it; never leaves this file. */
class Rollback extends PimError<'rollback'> {
  constructor() {
    super('rollback', 'rolled back');
  }
}

export class Journal {
  /** the clock records are stamped with */
  readonly now: () => Date;
  private readonly onAppend: ((r: AuditRecord) => void) | undefined;

  constructor(
    readonly db: Db,
    opts: { now?: () => Date; onAppend?: (r: AuditRecord) => void } = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.onAppend = opts.onAppend;
  }

  private meta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }

  /** Runs `fn` in a write transaction (IMMEDIATE, or a savepoint inside the caller's), turning
   *  SQLite's failures into JournalErrors. */
  write<T>(fn: () => T): T {
    try {
      const tx = this.db.transaction(fn);
      return this.db.inTransaction ? tx() : tx.immediate();
    } catch (e) {
      if (e instanceof JournalError || !isDbError(e)) throw e;
      throw unavailable(e);
    }
  }

  /** The device whose chain this is; null until enrolment starts one. */
  device(): string | null {
    try {
      return this.meta(META_DEVICE);
    } catch (e) {
      throw unavailable(e);
    }
  }

  /** The last record's (seq, hash); (0, genesis) for an empty chain. */
  head(): { seq: number; hash: string } {
    const row = this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /** A device key was made (at enrolment): journaled as `keystore-changed` with the first records
   *  of its chain, whenever that enrolment completes. */
  noteDeviceKeyCreated(
    device: string,
    keystore: 'os-keychain' | 'file',
    chosen?: { why: string; chosenAt: string },
  ): void {
    this.write(() =>
      this.setMeta(
        META_PENDING_KEY,
        JSON.stringify({ device, keystore, createdAt: this.now().toISOString(), ...(chosen ? { chosen } : {}) }),
      ),
    );
  }

  /**
   * Starts the chain of `device` if it is not the current one — retiring the chain of a previous
   * device key — and appends `entries` to it, all in one transaction. With the same device the
   * chain just continues (re-enrolment with the same key).
   */
  begin(device: string, user: string | null, entries: { type: AuditType; data: AuditData }[]): AuditRecord[] {
    if (!/^[A-Za-z0-9_-]{43}$/.test(device))
      throw new JournalError('journal-invalid', 'the audit chain needs a device key thumbprint');
    return this.write(() => {
      const current = this.meta(META_DEVICE);
      if (current !== device) {
        if (current !== null) {
          const at = this.now().toISOString();
          this.setMeta('audit_retiring', '1');
          this.db
            .prepare(
              'INSERT OR IGNORE INTO audit_retired (device, seq, at, type, record_json, hash, retired_at) SELECT ?, seq, at, type, record_json, hash, ? FROM audit',
            )
            .run(current, at);
          this.db.prepare('DELETE FROM audit').run();
          this.db.prepare("DELETE FROM meta WHERE key = 'audit_retiring'").run();
        }
        this.setMeta(META_DEVICE, device);
        this.setMeta(META_ACKED, '0');
      }
      const out = entries.map((e) => this.append(e.type, user, e.data));
      const pendingKey = this.meta(META_PENDING_KEY);
      if (pendingKey) {
        const k = JSON.parse(pendingKey) as {
          device: string;
          keystore: string;
          createdAt: string;
          chosen?: { why: string; chosenAt: string };
        };
        // `chosen`: why this home uses that keystore (the first-run decision), when it was made then
        if (k.device === device)
          out.push(
            this.append('keystore-changed', user, {
              kind: 'device-key-created',
              keystore: k.keystore,
              device,
              createdAt: k.createdAt,
              ...(k.chosen ? { chosen: k.chosen } : {}),
            }),
          );
        this.db.prepare('DELETE FROM meta WHERE key = ?').run(META_PENDING_KEY);
      }
      return out;
    });
  }

  /** Appends one record to the chain and returns it; durable when this returns. */
  append(type: AuditType, user: string | null, data: AuditData): AuditRecord {
    if (!(AUDIT_TYPES as readonly string[]).includes(type))
      throw new JournalError('journal-invalid', `"${type}" is not an audit record type`);
    const record = this.write(() => {
      const device = this.meta(META_DEVICE);
      if (!device)
        throw new JournalError(
          'journal-not-started',
          'the audit journal has no chain yet: enrol this device (`pim enroll LINK`)',
        );
      const last = this.head();
      if (!HEX64.test(last.hash))
        throw new JournalError(
          'journal-unavailable',
          `the audit journal cannot be written (record ${last.seq} has a malformed hash: agent.db is damaged — see \`pim audit verify\`): new activations are refused until it is repaired`,
        );
      const r: AuditRecord = {
        v: 1,
        device,
        seq: last.seq + 1,
        at: this.now().toISOString(),
        type,
        user,
        data: plain(data),
      };
      const parsed = AuditRecordSchema.safeParse(r);
      if (!parsed.success)
        throw new JournalError(
          'journal-invalid',
          `a ${type} record would not be valid (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'invalid'})`,
        );
      const hash = chainHash(last.hash, r);
      this.db
        .prepare('INSERT INTO audit (seq, at, type, record_json, hash) VALUES (?, ?, ?, ?, ?)')
        .run(r.seq, r.at, r.type, JSON.stringify(r), hash);
      return r;
    });
    this.onAppend?.(record);
    return record;
  }

  /** Refuses (JournalError) when nothing could be appended now: no chain, or agent.db not
   *  writable. Checked before an activation request leaves the agent (fail closed). */
  assertWritable(): void {
    if (!this.device())
      throw new JournalError(
        'journal-not-started',
        'the audit journal has no chain yet: enrol this device (`pim enroll LINK`)',
      );
    try {
      this.write(() => {
        this.setMeta('audit_probe', this.now().toISOString());
        const { hash, seq } = this.head();
        if (!HEX64.test(hash))
          throw new JournalError(
            'journal-unavailable',
            `the audit journal cannot be written (record ${seq} has a malformed hash: agent.db is damaged — see \`pim audit verify\`): new activations are refused until it is repaired`,
          );
        throw new Rollback();
      });
    } catch (e) {
      if (!(e instanceof Rollback)) throw e;
    }
  }

  /** Whether a record of `type` about activation `id` is in the chain already. */
  has(activation: string, type: AuditType): boolean {
    return !!this.db
      .prepare("SELECT 1 FROM audit WHERE json_extract(record_json, '$.data.activation') = ? AND type = ? LIMIT 1")
      .get(activation, type);
  }

  /** The latest record of a type, or null. */
  lastOf(type: AuditType): ChainedRecord | null {
    const row = this.db
      .prepare('SELECT record_json, hash FROM audit WHERE type = ? ORDER BY seq DESC LIMIT 1')
      .get(type) as Pick<Row, 'record_json' | 'hash'> | undefined;
    return row ? { record: JSON.parse(row.record_json) as AuditRecord, hash: row.hash } : null;
  }

  list(opts: ListOptions = {}): ChainedRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.type) {
      where.push('type = ?');
      args.push(opts.type);
    }
    if (opts.role) {
      where.push("json_extract(record_json, '$.data.role') = ?");
      args.push(opts.role);
    }
    const limit = Math.max(1, Math.min(opts.limit ?? 100, 1_000_000));
    const rows = this.db
      .prepare(
        `SELECT record_json, hash FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...args, limit) as Pick<Row, 'record_json' | 'hash'>[];
    return rows.reverse().map((r) => ({ record: JSON.parse(r.record_json) as AuditRecord, hash: r.hash }));
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
  }

  /** Checks the whole chain from record 1: every record well-formed, numbered in order, linked to
   *  the one before, of this device, and agreeing with the columns it is indexed by. */
  verify(): VerifyResult {
    const device = this.device();
    const rows = this.db
      .prepare('SELECT seq, at, type, record_json, hash FROM audit ORDER BY seq')
      .iterate() as IterableIterator<Row>;
    let count = 0;
    let prevSeq = 0;
    let prevHash = GENESIS_HASH;
    const fail = (problem: ChainProblem): VerifyResult => ({
      ok: false,
      count,
      device,
      problem,
      message: describeProblem(problem),
    });
    if (device === null) {
      const first = rows.next();
      if (first.done) return { ok: true, count: 0, device, problem: null, message: null };
      (rows as { return?: () => void }).return?.();
      return fail({ kind: 'invalid', seq: first.value.seq, message: 'the journal holds records but names no device' });
    }
    for (const row of rows) {
      count++;
      let record: AuditRecord;
      try {
        record = JSON.parse(row.record_json) as AuditRecord;
      } catch {
        return fail({ kind: 'invalid', seq: row.seq, message: 'not JSON' });
      }
      const problem = verifyChain(device, prevSeq, prevHash, [{ record, hash: row.hash }]);
      // (returning from the loop closes the statement's iterator)
      if (problem) return fail(problem);
      if (row.seq !== record.seq || row.at !== record.at || row.type !== record.type) {
        return fail({
          kind: 'invalid',
          seq: record.seq,
          message: `its row (seq ${row.seq}, ${row.type}) does not match its contents`,
        });
      }
      prevSeq = record.seq;
      prevHash = row.hash;
    }
    // An intact chain can still be one cut short: records the control plane signed that it holds
    // must still be here, with the same hash.
    const stored = this.signedAck();
    const ack = stored && stored.ack.device === device ? stored : null;
    // Deleting the newest records together with the signed ack (it lives in this same agent.db)
    // must not read as intact: the cursor only ever moves on a signed ack, so a cursor ahead of
    // the ack kept means the ack that moved it is gone.
    const cursor = this.acked();
    if (cursor > 0 && (!ack || ack.ack.seq < cursor)) {
      const problem: UnverifiableProblem = {
        kind: 'unverifiable',
        seq: prevSeq,
        acked: cursor,
        signed: ack?.ack.seq ?? null,
      };
      const message = `not verifiable: the sync cursor says the control plane holds records up to ${cursor}, but ${ack ? `the signed acknowledgement kept covers only ${ack.ack.seq}` : 'no signed acknowledgement of them is kept'} — records may have been deleted with it. Compare with the control plane's copy (pim-server audit export), or run \`pim audit sync\` online to fetch a signed head`;
      return { ok: false, count, device, problem, message };
    }
    if (ack && ack.ack.seq > 0) {
      const held = this.hashAt(ack.ack.seq);
      if (held === null || held !== ack.ack.hash) {
        const problem: TruncationProblem = { kind: 'truncated', seq: prevSeq, acked: ack.ack.seq, at: ack.ack.at };
        const message =
          held === null
            ? `the journal was truncated: it ends at record ${prevSeq}, but the control plane signed at ${ack.ack.at} that it holds records up to ${ack.ack.seq} — records ${prevSeq + 1}–${ack.ack.seq} were deleted (the control plane still has them: pim-server audit export)`
            : `the journal was rewritten: record ${ack.ack.seq} is not the one the control plane signed at ${ack.ack.at} that it holds`;
        return { ok: false, count, device, problem, message };
      }
    }
    return { ok: true, count, device, problem: null, message: null };
  }

  /** Records after `afterSeq`, in order: at most `limit` of them and about `maxBytes` of JSON
   *  (always at least one when there is one). */
  pending(afterSeq: number, limit = 1000, maxBytes = Infinity): ChainedRecord[] {
    const rows = this.db
      .prepare('SELECT record_json, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit) as Pick<Row, 'record_json' | 'hash'>[];
    const out: ChainedRecord[] = [];
    let bytes = 0;
    for (const r of rows) {
      bytes += r.record_json.length + 90;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push({ record: JSON.parse(r.record_json) as AuditRecord, hash: r.hash });
    }
    return out;
  }

  /** The highest seq the control plane acknowledged holding (contiguously). */
  acked(): number {
    const v = Number(this.meta(META_ACKED) ?? 0);
    return Number.isSafeInteger(v) && v > 0 ? v : 0;
  }

  /** How the last syncs went (all null before the first one). */
  syncOutcome(): SyncOutcome {
    const none: SyncOutcome = { lastSuccessAt: null, failingSince: null, lastError: null };
    try {
      const o = JSON.parse(this.meta(META_SYNC) ?? 'null') as Partial<SyncOutcome> | null;
      if (!o || typeof o !== 'object') return none;
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      const e = o.lastError;
      return {
        lastSuccessAt: str(o.lastSuccessAt),
        failingSince: str(o.failingSince),
        lastError:
          e && typeof e.code === 'string' && typeof e.message === 'string'
            ? { code: e.code, message: e.message }
            : null,
      };
    } catch (e) {
      if (e instanceof SyntaxError) return none;
      throw unavailable(e);
    }
  }

  /** Notes a sync's outcome: a success clears the failure run, a failure starts one (or goes on). */
  noteSync(outcome: { ok: true } | { ok: false; code: string; message: string }): void {
    this.write(() => {
      const prev = this.syncOutcome();
      const at = this.now().toISOString();
      const next: SyncOutcome = outcome.ok
        ? { lastSuccessAt: at, failingSince: null, lastError: null }
        : {
            lastSuccessAt: prev.lastSuccessAt,
            failingSince: prev.failingSince ?? at,
            lastError: { code: outcome.code, message: outcome.message.slice(0, 1000) },
          };
      this.setMeta(META_SYNC, JSON.stringify(next));
    });
  }

  /** The hash of record `seq` (seq 0: the genesis hash), or null when there is no such record. */
  hashAt(seq: number): string | null {
    if (seq === 0) return GENESIS_HASH;
    const r = this.db.prepare('SELECT hash FROM audit WHERE seq = ?').get(seq) as { hash: string } | undefined;
    return r?.hash ?? null;
  }

  /** The last acknowledgement the control plane signed (verified when stored), or null. */
  signedAck(): SignedAuditAck | null {
    const raw = this.meta(META_SIGNED_ACK);
    if (raw === null) return null;
    try {
      const p = SignedAuditAckSchema.safeParse(JSON.parse(raw));
      return p.success ? p.data : null;
    } catch {
      return null;
    }
  }

  /** Keeps a verified signed acknowledgement; never one for less than the one kept. */
  setSignedAck(signed: SignedAuditAck): void {
    this.write(() => {
      const cur = this.signedAck();
      if (!cur || cur.ack.device !== signed.ack.device || signed.ack.seq >= cur.ack.seq)
        this.setMeta(META_SIGNED_ACK, JSON.stringify(signed));
    });
  }

  /** Moves the sync cursor forward to `n`; never backwards, never past the last record. */
  setAcked(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`the sync cursor must be a whole number ≥ 0 (got ${n})`);
    this.write(() => {
      const last = this.head().seq;
      if (n > last)
        throw new RangeError(`the control plane cannot hold record ${n}: the journal ends at record ${last}`);
      if (n > this.acked()) this.setMeta(META_ACKED, String(n));
    });
  }
}

function isDbError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'SqliteError') return true;
  return /database connection is not open|database is locked|readonly database|disk/i.test(e.message);
}
