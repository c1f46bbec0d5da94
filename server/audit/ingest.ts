// The control plane's side of audit sync (docs/architecture.md, Flows: Audit journal and sync). Agents send batches of
// their chained records, signed by the device key, at least once; the server
//   - keeps only the caller's own records (the batch is signed by its key),
//   - skips records it already holds with the same hash (re-sent batches, overlaps),
//   - stores a record only when it links to the head it holds (chainHash(head.hash, record)),
//   - never stores past a problem (gap, fork, broken link, foreign or invalid record), and flags it,
// and answers with the highest contiguous seq it holds: the only thing the agent's cursor follows
// (the route adds the control plane's signature over it: ack.ts).
import crypto from 'node:crypto';
import { canonicalJson } from '../../shared/canonical';
import { GENESIS_HASH, verifyChain, type ChainedRecord, type ChainProblem } from '../../shared/audit';
import { errorMessage } from '../../shared/errors';
import { refuse } from '../api/errors';
import type { AuditHead, AuditStore } from '../store/audit-store';

export const MAX_BATCH_RECORDS = 5000;
/** the largest record accepted, as JSON */
export const MAX_RECORD_BYTES = 256 * 1024;

export type FlagKind = 'gap' | 'fork' | 'broken-link' | 'wrong-device' | 'invalid';
export type IngestProblem = ChainProblem | { kind: 'fork'; seq: number };

export interface IngestResult {
  /** the highest contiguous seq held for the device (0: nothing yet) */
  acked: number;
  /** why the walk stopped early, or null when every record was stored or already held */
  problem: IngestProblem | null;
}

export type { AuditHead } from '../store/audit-store';

const HASH = /^[0-9a-f]{64}$/;

/** The hash of the record held at `seq` (seq 0: the genesis hash), or null when not held. */
export function heldHash(store: AuditStore, device: string, seq: number): string | null {
  if (seq === 0) return GENESIS_HASH;
  return store.recordHash(device, seq);
}

/** Stores what continues the caller's chain, in one durable transaction; see the file comment. */
export function ingestBatch(store: AuditStore, callerDevice: string, records: unknown[], now: Date): IngestResult {
  if (!Array.isArray(records)) throw refuse('bad-input', 'records must be an array');
  if (records.length > MAX_BATCH_RECORDS)
    throw refuse(
      'batch-too-large',
      `a batch holds at most ${MAX_BATCH_RECORDS} records; send ${records.length} in smaller batches`,
    );
  const at = now.toISOString();
  const flag = (problem: IngestProblem, detail: string): IngestResult => {
    store.flagOnce(callerDevice, problem.seq, problem.kind, detail, at);
    return { acked: head.seq, problem };
  };

  let head: AuditHead = { seq: 0, hash: GENESIS_HASH };
  const walk = (): IngestResult => {
    head = store.head(callerDevice);
    const start = head.seq;
    try {
      for (const item of records) {
        const shape = chained(item);
        if (typeof shape === 'string') return flag({ kind: 'invalid', seq: seqOf(item), message: shape }, shape);
        const { record, hash } = shape;
        let json: string;
        try {
          json = canonicalJson(record);
        } catch (e) {
          return flag({ kind: 'invalid', seq: seqOf(item), message: errorMessage(e) }, errorMessage(e));
        }
        const bytes = Buffer.byteLength(json);
        if (bytes > MAX_RECORD_BYTES) {
          const message = `the record is ${bytes} bytes of JSON; at most ${MAX_RECORD_BYTES} are accepted`;
          return flag({ kind: 'invalid', seq: seqOf(item), message }, message);
        }
        // schema, device, seq and link, in that order (shared/audit: the agent runs the same check)
        // the link hash over the canonical JSON made above, with Node's native SHA-256
        const problem = verifyChain(callerDevice, head.seq, head.hash, [{ record, hash }], (prev) =>
          crypto.createHash('sha256').update(Buffer.from(prev, 'hex')).update(json).digest('hex'),
        );
        if (problem === null) {
          store.insertRecord(callerDevice, record.seq, hash, json, at);
          head = { seq: record.seq, hash };
          continue;
        }
        switch (problem.kind) {
          case 'invalid':
            return flag(problem, `invalid record: ${problem.message}`);
          case 'wrong-device':
            return flag(
              problem,
              `the record names device ${String(record.device).slice(0, 64)}, not the device that signed the batch`,
            );
          case 'broken-link':
            return flag(
              problem,
              `seq ${problem.seq} does not link to seq ${head.seq} held (hash ${hash} is not SHA-256(${head.hash} ‖ record))`,
            );
          case 'gap': {
            if (problem.seq > head.seq)
              return flag(
                problem,
                `expected seq ${problem.expected}, got ${problem.seq}: records ${problem.expected}–${problem.seq - 1} are missing`,
              );
            // at or below the head: already held (a re-sent or overlapping batch), or another history
            const row = store.record(callerDevice, problem.seq);
            if (!row)
              return flag(
                { kind: 'invalid', seq: problem.seq, message: 'not held although below the head' },
                `seq ${problem.seq} is below the head (${head.seq}) but not held`,
              );
            if (row.hash !== hash)
              return flag(
                { kind: 'fork', seq: problem.seq },
                `another record for seq ${problem.seq}: hash ${hash}, held ${row.hash}`,
              );
            if (row.record_json !== json)
              return flag(
                { kind: 'broken-link', seq: problem.seq },
                `seq ${problem.seq} was re-sent with its held hash but other content (edited record)`,
              );
            continue; // a duplicate: skip
          }
        }
      }
      return { acked: head.seq, problem: null };
    } finally {
      if (head.seq !== start) store.setHead(callerDevice, head);
    }
  };
  // IMMEDIATE: take the write lock before reading the head, so two writers cannot both extend it
  return store.immediate(walk);
}

/** `{ record, hash }` with a hex hash and an object record, or why not. */
function chained(item: unknown): { record: ChainedRecord['record']; hash: string } | string {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return 'each entry must be { record, hash }';
  const { record, hash } = item as { record?: unknown; hash?: unknown };
  if (typeof hash !== 'string' || !HASH.test(hash)) return 'hash must be 64 lower-case hex digits';
  if (!record || typeof record !== 'object' || Array.isArray(record)) return 'record must be an object';
  return { record: record as ChainedRecord['record'], hash };
}

function seqOf(item: unknown): number | null {
  const seq = (item as { record?: { seq?: unknown } } | null)?.record?.seq;
  return typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : null;
}
