// Checks the control plane's signed audit acknowledgements (shared/audit-ack.ts) against the TUF
// timestamp keys of the root this agent trusts (its verified copy in tuf/metadata/root.json).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ackPayload, SignedAuditAckSchema, type SignedAuditAck } from '../../shared/audit-ack';
import { tufDirs } from '../policy/tuf-dirs';

interface RootJson {
  signed?: {
    keys?: Record<string, { keytype?: string; keyval?: { public?: string } }>;
    roles?: { timestamp?: { keyids?: string[]; threshold?: number } };
  };
}

function ed25519(publicHex: string): crypto.KeyObject {
  return crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicHex, 'hex').toString('base64url') },
    format: 'jwk',
  });
}

/** Null when `value` is an acknowledgement of exactly `expected`, validly signed by at least the
 *  threshold of distinct trusted timestamp keys; otherwise why not. */
export function checkSignedAck(
  home: string,
  value: unknown,
  expected: { device: string; seq: number; hash: string },
): { ok: true; signed: SignedAuditAck } | { ok: false; why: string } {
  const parsed = SignedAuditAckSchema.safeParse(value);
  if (!parsed.success) return { ok: false, why: 'the answer carries no signed acknowledgement' };
  const { ack, signatures } = parsed.data;
  if (ack.device !== expected.device || ack.seq !== expected.seq || ack.hash !== expected.hash) {
    return {
      ok: false,
      why: `the signed acknowledgement (device ${ack.device.slice(0, 12)}…, seq ${ack.seq}) does not match the answer (seq ${expected.seq}) or this journal`,
    };
  }
  let root: RootJson;
  try {
    root = JSON.parse(fs.readFileSync(path.join(tufDirs(home).metadata, 'root.json'), 'utf8')) as RootJson;
  } catch {
    return { ok: false, why: 'no trusted TUF root to check the acknowledgement with (run `pim policy refresh`)' };
  }
  const role = root.signed?.roles?.timestamp;
  const threshold = role?.threshold ?? 1;
  const bytes = Buffer.from(ackPayload(ack), 'utf8');
  const good = new Set<string>(); // distinct public keys, not key ids
  for (const s of signatures) {
    if (!role?.keyids?.includes(s.keyid)) continue;
    const k = root.signed?.keys?.[s.keyid];
    const pub = k?.keytype === 'ed25519' ? k.keyval?.public : undefined;
    if (!pub || !/^[0-9a-f]{64}$/.test(pub) || good.has(pub)) continue;
    try {
      if (crypto.verify(null, bytes, ed25519(pub), Buffer.from(s.sig, 'hex'))) good.add(pub);
    } catch {
      // a malformed key or signature counts for nothing
    }
  }
  if (good.size < Math.max(1, threshold))
    return {
      ok: false,
      why: `the acknowledgement is not signed by the control plane's timestamp key (${good.size} of ${threshold} valid signatures)`,
    };
  return { ok: true, signed: parsed.data };
}
