// `pim audit verify`, online: the local check cannot see records deleted together with the signed
// ack kept beside them in agent.db (and the cursor reset). The control plane's own signed head can:
// it names the highest record it holds and that record's hash.
import { SignedAuditAckSchema } from '../../shared/audit-ack';
import { errorMessage } from '../../shared/errors';
import { ControlPlaneClient } from '../activation/cp-client';
import type { Agent } from '../agent';
import { loadDeviceKey, openKeystore } from '../keystore';
import { checkSignedAck } from './ack';
import type { Journal } from './journal';

export type HeadCheck =
  /** the control plane signed that it holds up to `seq`, and this journal has that very record */
  | { kind: 'consistent'; seq: number }
  /** this journal ends before, or differs at, what the control plane signed that it holds */
  | { kind: 'truncated'; message: string }
  /** no comparison was possible (offline, not enrolled, an answer that is not signed) */
  | { kind: 'unknown'; why: string };

export async function checkAgainstServerHead(agent: Agent, journal: Journal, timeoutMs = 5000): Promise<HeadCheck> {
  const conn = agent.store.connection();
  const device = journal.device();
  if (!conn || conn.unenrolled || !device) return { kind: 'unknown', why: 'not enrolled' };
  let head: { acked?: unknown; signed?: unknown };
  try {
    const key = await loadDeviceKey(openKeystore(agent.home));
    if (!key || key.thumbprint !== device) return { kind: 'unknown', why: 'no device key for this journal' };
    head = await new ControlPlaneClient(conn.server, key, timeoutMs).request('auditHead', {});
  } catch (e) {
    return { kind: 'unknown', why: `the control plane could not be asked (${errorMessage(e)})` };
  }
  const parsed = SignedAuditAckSchema.safeParse(head?.signed);
  if (!parsed.success) return { kind: 'unknown', why: "the control plane's answer carries no signed head" };
  const { ack } = parsed.data;
  // the signature over the head as the control plane states it (not over what we hold)
  const r = checkSignedAck(agent.home, parsed.data, { device, seq: ack.seq, hash: ack.hash });
  if (!r.ok) return { kind: 'unknown', why: r.why };
  if (ack.seq === 0) return { kind: 'consistent', seq: 0 };
  const last = journal.head().seq;
  const held = journal.hashAt(ack.seq);
  if (held === null) {
    return {
      kind: 'truncated',
      message: `the journal was truncated: it ends at record ${last}, but the control plane signed at ${ack.at} that it holds records up to ${ack.seq} — records ${last + 1}–${ack.seq} were deleted (the control plane still has them: pim-server audit export)`,
    };
  }
  if (held !== ack.hash)
    return {
      kind: 'truncated',
      message: `the journal was rewritten: record ${ack.seq} is not the one the control plane signed at ${ack.at} that it holds`,
    };
  return { kind: 'consistent', seq: ack.seq };
}
