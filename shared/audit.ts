// The audit journal's records (docs/architecture.md, Flows: Audit journal and sync): one hash chain per device,
//   hash(n) = SHA-256(hash(n-1) ‖ JCS(record n)),  hash(0) = 32 zero bytes,
// with `seq` strictly increasing from 1. The agent appends, the control plane verifies the same
// chain on ingest, so editing, deleting, reordering or inserting a record anywhere is detectable.
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import { z } from 'zod';
import { canonicalJson } from './canonical';

export const AUDIT_TYPES = [
  'enrolled',
  'policy-refreshed',
  'policy-rejected',
  'activation-requested',
  'activation-pending-approval',
  'activation-approved',
  'activation-denied',
  'activation-active',
  'activation-extended',
  'activation-deactivated',
  'activation-expired',
  'activation-revoked',
  'activation-request-expired',
  'approval-given',
  'credentials-injected',
  'credentials-removed',
  'keystore-changed',
  'config-changed',
  'sync-failed',
  'shell-command',
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

const json: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string().max(100_000),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(json).max(1000),
    z.record(z.string().max(100), json),
  ]),
);

export const AuditRecordSchema = z
  .object({
    v: z.literal(1),
    /** the device key's thumbprint: whose chain this is */
    device: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    seq: z.number().int().positive(),
    at: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    type: z.enum(AUDIT_TYPES),
    user: z.string().max(254).nullable(),
    /** type-specific details: role, activation id, request bytes, assertion, reasons … */
    data: z.record(z.string().max(100), json),
  })
  .strict();
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

export const GENESIS_HASH = '0'.repeat(64);

/** hash(n) = SHA-256(hash(n-1) ‖ JCS(record)) — hex */
export function chainHash(prevHash: string, record: AuditRecord): string {
  return bytesToHex(sha256(concatBytes(hexToBytes(prevHash), utf8ToBytes(canonicalJson(record)))));
}

export interface ChainedRecord {
  record: AuditRecord;
  hash: string;
}

export type ChainProblem =
  | { kind: 'gap'; seq: number; expected: number }
  | { kind: 'broken-link'; seq: number }
  | { kind: 'wrong-device'; seq: number }
  | { kind: 'invalid'; seq: number | null; message: string };

/** Checks that `records` continue the chain after (prevSeq, prevHash); returns the first problem,
 *  or null when every record links. Used by `pim audit verify`, and by the server on ingest. */
export function verifyChain(
  device: string,
  prevSeq: number,
  prevHash: string,
  records: readonly ChainedRecord[],
  /** the link hash of a record after `prev` (default chainHash); the server passes one that reuses
   *  the canonical JSON it already made and hashes natively */
  link: (prev: string, record: AuditRecord) => string = chainHash,
): ChainProblem | null {
  let seq = prevSeq;
  let hash = prevHash;
  for (const r of records) {
    const parsed = AuditRecordSchema.safeParse(r.record);
    if (!parsed.success)
      return {
        kind: 'invalid',
        seq: typeof (r.record as { seq?: unknown })?.seq === 'number' ? (r.record as { seq: number }).seq : null,
        message: parsed.error.issues[0]?.message ?? 'invalid record',
      };
    if (r.record.device !== device) return { kind: 'wrong-device', seq: r.record.seq };
    if (r.record.seq !== seq + 1) return { kind: 'gap', seq: r.record.seq, expected: seq + 1 };
    if (link(hash, r.record) !== r.hash) return { kind: 'broken-link', seq: r.record.seq };
    seq = r.record.seq;
    hash = r.hash;
  }
  return null;
}
