// Sending the journal to the control plane (docs/architecture.md, Flows: Audit journal and sync): batches of records
// after the sync cursor, gzip-compressed and signed by the device key, POSTed to /api/v1/audit. Delivery is at least
// once — the server deduplicates by (device, seq), checks that the chain continues and answers the highest contiguous
// seq it holds — and the cursor (meta 'audit_acked' in agent.db, so it survives restarts) moves only to that answer,
// never backwards, and only when the answer carries the control plane's signature over exactly that head
// (shared/audit-ack.ts; the last one is kept for `pim audit verify`'s truncation check).
//
// `syncOnce` runs until caught up; a failure is journaled as `sync-failed` (at most hourly) and
// rethrown. `AuditSyncer` runs it in long-running hosts: soon after each append, every minute, and
// with jittered exponential backoff while the control plane is away. Every outcome of syncOnce is
// noted in agent.db (meta 'audit_sync': last success, first failure of the current run, last
// error), which the UI's audit view shows.
import type { ChainedRecord } from '../../shared/audit';
import { PimError, errorCode, errorMessage } from '../../shared/errors';
import { ControlPlaneClient, ControlPlaneError } from '../activation/cp-client';
import type { Agent } from '../agent';
import { loadDeviceKey, openKeystore, type DeviceKey } from '../keystore';
import { checkSignedAck } from './ack';
import { describeProblem, JournalError, type Journal } from './journal';
import { numberSetting } from '../../shared/settings';

/** Records per batch (the server's limit too). */
export const MAX_BATCH_RECORDS = 1000;
/** About this much JSON per batch (the control plane takes up to 16 MiB on the wire, 64 MiB inflated). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** A failing sync is journaled at most this often. */
export const SYNC_FAILED_AUDIT_MS = 60 * 60_000;

export type AuditSyncErrorCode =
  'not-enrolled' | 'wrong-device' | 'server-ahead' | 'server-problem' | 'no-progress' | 'bad-answer' | 'unsigned-ack';

export class AuditSyncError extends PimError<AuditSyncErrorCode> {
  constructor(
    code: AuditSyncErrorCode,
    message: string,
    readonly problem: { kind: string; seq: number } | null = null,
  ) {
    super(code, message);
  }
}

export interface SyncResult {
  /** records the control plane newly acknowledged in this sync */
  sent: number;
  /** the highest contiguous seq the control plane holds for this device */
  acked: number;
  /** records it does not hold yet (appended while syncing) */
  pending: number;
}

function describeServerProblem(p: { kind: string; seq: number | null }): string {
  const seq = Number(p.seq);
  switch (p.kind) {
    case 'gap':
      return `record ${seq} does not follow on from the records it holds (gap)`;
    case 'broken-link':
    case 'wrong-device':
      return describeProblem({ kind: p.kind, seq });
    case 'invalid':
      return `record ${seq} is not a valid audit record`;
    case 'fork':
      return `it holds another record ${seq} (fork: this journal was rewritten after it was synced)`;
    default:
      return `${String(p.kind).slice(0, 60)} at record ${seq}`;
  }
}

function checkAcked(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new AuditSyncError('bad-answer', 'the control plane answered the audit sync with no valid `acked`');
  return v;
}

/** Sends every record the control plane does not hold yet. */
export async function syncOnce(agent: Agent, opts: { key?: DeviceKey; timeoutMs?: number } = {}): Promise<SyncResult> {
  const conn = agent.store.connection();
  const journal = await agent.journal();
  const device = journal.device();
  if (!conn || conn.unenrolled || !device)
    throw new AuditSyncError('not-enrolled', 'this agent keeps no audit journal yet: enrol it with `pim enroll LINK`');
  try {
    const key = opts.key ?? (await loadDeviceKey(openKeystore(agent.home)));
    if (!key)
      throw new AuditSyncError(
        'not-enrolled',
        'this agent has no device key to sign its journal with: run `pim enroll LINK`',
      );
    if (key.thumbprint !== device)
      throw new AuditSyncError(
        'wrong-device',
        `the journal is the chain of device ${device.slice(0, 12)}…, but this agent's device key is ${key.thumbprint.slice(0, 12)}…: re-enrol this device`,
      );
    const r = await sendAll(
      journal,
      new ControlPlaneClient(conn.server, key, opts.timeoutMs),
      ackChecker(agent, journal, device),
    );
    noteOutcome(journal, null);
    return r;
  } catch (e) {
    if (!(e instanceof JournalError)) auditFailure(journal, conn.user, e);
    noteOutcome(journal, e);
    throw e;
  }
}

/** Remembers when syncing last worked and since when it fails (the audit view shows both). */
function noteOutcome(journal: Journal, e: unknown): void {
  try {
    if (e === null) journal.noteSync({ ok: true });
    else
      journal.noteSync({
        ok: false,
        code: errorCode(e) ?? 'error',
        message: errorMessage(e),
      });
  } catch {
    // bookkeeping only: the sync's own outcome is what counts
  }
}

type AckCheck = (answer: { acked: number; signed?: unknown }) => Promise<void>;

/** Refuses (AuditSyncError 'unsigned-ack') an acknowledgement the control plane did not sign for
 *  exactly this journal, so a man in the middle cannot move the cursor; keeps the last valid one. */
function ackChecker(agent: Agent, journal: Journal, device: string): AckCheck {
  let refreshed = false;
  return async (answer) => {
    const hash = journal.hashAt(answer.acked);
    if (hash === null) return; // beyond the journal: the caller's `ahead` check reports it
    const expected = { device, seq: answer.acked, hash };
    let r = checkSignedAck(agent.home, answer.signed, expected);
    if (!r.ok && !refreshed) {
      // the timestamp key may have been rotated since the last policy refresh: follow the new root once
      refreshed = true;
      await agent.refresh().catch(() => undefined);
      r = checkSignedAck(agent.home, answer.signed, expected);
    }
    if (!r.ok)
      throw new AuditSyncError(
        'unsigned-ack',
        `the control plane's answer to the audit sync was refused, the sync cursor stays at seq ${journal.acked()}: ${r.why}`,
      );
    journal.setSignedAck(r.signed);
  };
}

async function sendAll(journal: Journal, client: ControlPlaneClient, checkAck: AckCheck): Promise<SyncResult> {
  const before = journal.acked();
  let next = before; // send the records after this seq
  let server: number | null = null;
  const tried = new Set<number>();
  const ahead = (acked: number) => {
    const last = journal.head().seq;
    if (acked > last) {
      throw new AuditSyncError(
        'server-ahead',
        `the control plane holds records up to seq ${acked} from this device, but its journal ends at seq ${last}: the local journal was reset or truncated`,
      );
    }
  };
  for (;;) {
    const batch: ChainedRecord[] = journal.pending(next, MAX_BATCH_RECORDS, MAX_BATCH_BYTES);
    if (batch.length === 0) {
      if (server === null) {
        // nothing to send: ask what the server holds (it may have lost what it acknowledged)
        const head = await client.request('auditHead', {});
        server = checkAcked(head?.acked);
        ahead(server);
        await checkAck({ acked: server, signed: head.signed });
        if (server < next && !tried.has(server)) {
          tried.add(server);
          next = server;
          continue;
        }
      }
      break;
    }
    tried.add(next);
    const answer = await client.request('ingestAudit', { body: { records: batch } }, { gzip: true });
    server = checkAcked(answer?.acked);
    ahead(server);
    await checkAck({ acked: server, signed: answer.signed });
    journal.setAcked(server);
    const first = batch[0]!.record.seq;
    const lastSent = batch[batch.length - 1]!.record.seq;
    if (answer.problem) {
      // it lacks records from before this batch (lost, or its copy was reset): send from there
      if (server < first - 1 && !tried.has(server)) {
        next = server;
        continue;
      }
      const p = answer.problem;
      throw new AuditSyncError(
        'server-problem',
        `the control plane refused this device's journal: ${describeServerProblem(p)}`,
        { kind: String(p.kind), seq: Number(p.seq) },
      );
    }
    if (server < lastSent) {
      if (tried.has(server))
        throw new AuditSyncError(
          'no-progress',
          `the control plane keeps acknowledging seq ${server} without naming a problem; records after it are not accepted`,
        );
      next = server;
      continue;
    }
    next = server;
  }
  const acked = server ?? before;
  return {
    sent: Math.max(0, acked - before),
    acked,
    pending: Math.max(0, journal.head().seq - Math.max(acked, journal.acked())),
  };
}

/** sync-failed, at most once an hour: a control plane that is away must not flood the chain. */
function auditFailure(journal: Journal, user: string, e: unknown): void {
  try {
    const last = journal.lastOf('sync-failed');
    if (last && journal.now().getTime() - Date.parse(last.record.at) < SYNC_FAILED_AUDIT_MS) return;
    const code = e instanceof AuditSyncError || e instanceof ControlPlaneError ? e.code : 'error';
    journal.append('sync-failed', user, {
      code,
      message: errorMessage(e).slice(0, 1000),
      acked: journal.acked(),
      last: journal.head().seq,
    });
  } catch {
    // the journal is failing too: the sync error is what gets reported
  }
}

export interface AuditSyncerOptions {
  /** between syncs while things work (default 60 s) */
  intervalMs?: number;
  /** after an append (default 1 s; appends within it share one sync) */
  debounceMs?: number;
  /** the longest wait while the control plane is away (default 15 min) */
  maxBackoffMs?: number;
  /** the sync itself (tests) */
  sync?: (agent: Agent) => Promise<SyncResult>;
}

export interface SyncerStatus {
  lastSyncAt: string | null;
  lastError: { code: string; message: string } | null;
  failures: number;
}

/** Background sync for long-running hosts (Electron, `pim agent`, `pim ui`). */
export class AuditSyncer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  private key: DeviceKey | undefined;
  private unsubscribe: (() => void) | null = null;
  private lastSyncAt: string | null = null;
  private lastError: SyncerStatus['lastError'] = null;
  private readonly intervalMs: number;
  private readonly debounceMs: number;
  private readonly maxBackoffMs: number;
  private readonly sync: NonNullable<AuditSyncerOptions['sync']>;

  constructor(
    private readonly agent: Agent,
    opts: AuditSyncerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? numberSetting(process.env, 'PIM_AUDIT_SYNC_MS');
    this.debounceMs = opts.debounceMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 15 * 60_000;
    // the device key is read from the keystore once, not every minute
    this.sync =
      opts.sync ??
      (async (a) => {
        this.key ??= (await loadDeviceKey(openKeystore(a.home))) ?? undefined;
        return syncOnce(a, { key: this.key });
      });
    agent.onClose(() => this.stop());
  }

  /** Starts: a sync now (a previous run may have left records unsent), then on schedule. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.agent.onAudit(() => this.kick());
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  status(): SyncerStatus {
    return { lastSyncAt: this.lastSyncAt, lastError: this.lastError, failures: this.failures };
  }

  /** A record was appended: sync soon — unless backing off, which an append does not cut short. */
  kick(): void {
    if (this.stopped || this.failures > 0) return;
    this.schedule(this.debounceMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  /** Whether there is anything to send (checked locally: a quiet minute costs no request). */
  private async due(): Promise<boolean> {
    const conn = this.agent.store.connection();
    if (!conn || conn.unenrolled) return false;
    const j = await this.agent.journal();
    return j.device() !== null && j.head().seq > j.acked();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      let delay = this.intervalMs;
      try {
        if (await this.due()) {
          await this.sync(this.agent);
          this.lastSyncAt = new Date().toISOString();
        }
        this.failures = 0;
        this.lastError = null;
      } catch (e) {
        this.failures++;
        this.lastError = { code: errorCode(e) ?? 'error', message: errorMessage(e) };
        const backoff = Math.min(this.maxBackoffMs, this.intervalMs * 2 ** Math.min(this.failures - 1, 10));
        delay = backoff / 2 + Math.random() * (backoff / 2);
      }
      if (this.again && this.failures === 0) {
        this.again = false;
        delay = this.debounceMs;
      }
      this.schedule(delay);
    })().finally(() => {
      this.running = null;
    });
    await this.running;
  }
}
