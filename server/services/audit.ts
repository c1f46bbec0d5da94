// Audit sync (docs/architecture.md, "Audit journal and sync"): the agents' chained records are ingested into server.db
// (audit/ingest.ts) and every answer carries the control plane's signed acknowledgement of the head
// it holds (audit/ack.ts), the only thing an agent's cursor follows.
import type { SignedAuditAck } from '../../shared/audit-ack';
import { signAck } from '../audit/ack';
import { heldHash, ingestBatch, type IngestResult } from '../audit/ingest';
import type { AuditStore } from '../store/audit-store';
import type { Clock } from './ids';

export class AuditService {
  constructor(
    private readonly deps: {
      store: AuditStore;
      /** the repository, whose timestamp key(s) sign the acknowledgements */
      dir: string;
      clock: Clock;
    },
  ) {}

  /** Stores what links to the device's head, and acknowledges the head it reached. */
  ingest(device: string, records: unknown[]): IngestResult & { signed: SignedAuditAck } {
    const { store, dir, clock } = this.deps;
    const r = ingestBatch(store, device, records, clock());
    // what this answer acknowledges (a concurrent batch may have moved the head since)
    const hash = heldHash(store, device, r.acked)!;
    return { ...r, signed: signAck(dir, { device, seq: r.acked, hash, at: clock().toISOString() }) };
  }

  /** Where an agent that lost its cursor resumes. */
  head(device: string): { acked: number; hash: string; signed: SignedAuditAck } {
    const head = this.deps.store.head(device);
    return {
      acked: head.seq,
      hash: head.hash,
      signed: signAck(this.deps.dir, {
        device,
        seq: head.seq,
        hash: head.hash,
        at: this.deps.clock().toISOString(),
      }),
    };
  }
}
