// What `pim-server audit verify|export` reads: every device's stored chain re-verified from genesis,
// the events ingest flagged, and the records as JSON lines.
import { GENESIS_HASH, verifyChain, type AuditRecord, type ChainedRecord, type ChainProblem } from '../../shared/audit';
import type { AuditStore } from '../store/audit-store';
import type { FlagKind } from './ingest';

const CHUNK = 1000;

export type StoredChainProblem = ChainProblem | { kind: 'head-mismatch'; seq: number; message: string };

export interface DeviceChainReport {
  device: string;
  records: number;
  problem: StoredChainProblem | null;
}

export interface AuditFlag {
  id: number;
  device: string;
  seq: number | null;
  kind: FlagKind;
  detail: string;
  at: string;
}

/** Re-verifies each device's stored chain from genesis (GENESIS_HASH, seq 0), in chunks, and checks
 *  that the head ingest keeps is where the chain ends. */
export function verifyStoredChains(audit: AuditStore): DeviceChainReport[] {
  return audit.devices().map((device) => {
    let seq = 0;
    let hash = GENESIS_HASH;
    let count = 0;
    let problem: StoredChainProblem | null = null;
    let chunk: ChainedRecord[] = [];
    const check = () => {
      if (problem || !chunk.length) return;
      problem = verifyChain(device, seq, hash, chunk);
      const last = chunk[chunk.length - 1]!;
      seq = last.record.seq;
      hash = last.hash;
      chunk = [];
    };
    for (const r of audit.records(device)) {
      count++;
      if (problem) continue; // keep counting
      let record: AuditRecord;
      try {
        record = JSON.parse(r.record_json) as AuditRecord;
      } catch {
        problem = { kind: 'invalid', seq: r.seq, message: 'the stored record is not JSON' };
        continue;
      }
      if (record?.seq !== r.seq) {
        problem = {
          kind: 'invalid',
          seq: r.seq,
          message: `the record stored at seq ${r.seq} says seq ${String(record?.seq)}`,
        };
        continue;
      }
      chunk.push({ record, hash: r.hash });
      if (chunk.length >= CHUNK) check();
    }
    check();
    const head = audit.head(device);
    if (!problem && (head.seq !== seq || head.hash !== hash)) {
      problem = {
        kind: 'head-mismatch',
        seq: head.seq,
        message: `the head says seq ${head.seq} but the stored chain ends at seq ${seq}${head.seq === seq ? ' with another hash' : ''}`,
      };
    }
    return { device, records: count, problem };
  });
}

export function auditFlags(audit: AuditStore): AuditFlag[] {
  return audit.flags() as AuditFlag[]; // kind: ingest writes only FlagKind values
}

export function describeProblem(p: StoredChainProblem): string {
  switch (p.kind) {
    case 'gap':
      return `gap: seq ${p.expected} expected, seq ${p.seq} found`;
    case 'broken-link':
      return `broken link at seq ${p.seq}: the record does not hash to its stored hash (edited?)`;
    case 'wrong-device':
      return `seq ${p.seq} names another device`;
    case 'invalid':
      return `invalid record${p.seq === null ? '' : ` at seq ${p.seq}`}: ${p.message}`;
    case 'head-mismatch':
      return p.message;
  }
}

/** The stored records as JSON lines {device, seq, hash, record}, ordered by device then seq.
 *  `since` keeps records whose own time (record.at) is at or after it. */
export function* exportRecords(audit: AuditStore, opts: { since?: Date; device?: string } = {}): Generator<string> {
  const since = opts.since ? opts.since.toISOString() : null;
  for (const r of audit.exportRows({ since, device: opts.device ?? null })) {
    // record_json is canonical JSON already: spliced in as it is
    yield `{"device":${JSON.stringify(r.device)},"seq":${r.seq},"hash":${JSON.stringify(r.hash)},"record":${r.record_json}}`;
  }
}
