// The control plane's signed acknowledgement of an audit sync: "I hold device D's chain up to seq S,
// whose hash is H" at time T. The agent moves its sync cursor only on a valid one (a man in the
// middle cannot move it) and keeps the last one, so `pim audit verify` can tell a journal that was
// cut short after syncing (its newest records deleted) from an intact one.
//
// Signed with the control plane's TUF timestamp key(s) (Ed25519). Why that key: its public half is
// in the TUF root the agent already pinned and keeps verified through every rotation (root chain,
// `pim-server rotate-keys --role timestamp`), so no new trust anchor or distribution channel is
// needed, and it is the key the control plane already holds online. The JWKS issuer key was the
// other candidate, but the JWKS is fetched over the very connection a man in the middle controls.
// Reusing the key is safe because the signed bytes are domain-separated: they start with
// ACK_CONTEXT, which no TUF payload (canonical JSON, starting with "{") can.
import { z } from 'zod';
import { canonicalJson } from './canonical';

export const ACK_CONTEXT = 'pim-audit-ack/v1\n';

const HEX64 = /^[0-9a-f]{64}$/;

export const AuditAckSchema = z.strictObject({
  device: z.string().min(1).max(200),
  seq: z.number().int().min(0),
  hash: z.string().regex(HEX64),
  at: z.string().max(40),
});
export type AuditAck = z.infer<typeof AuditAckSchema>;

export const SignedAuditAckSchema = z.strictObject({
  ack: AuditAckSchema,
  signatures: z
    .array(z.strictObject({ keyid: z.string().regex(HEX64), sig: z.string().regex(/^[0-9a-f]{128}$/) }))
    .min(1)
    .max(16),
});
export type SignedAuditAck = z.infer<typeof SignedAuditAckSchema>;

/** The exact bytes signed. */
export function ackPayload(ack: AuditAck): string {
  return ACK_CONTEXT + canonicalJson(ack);
}
