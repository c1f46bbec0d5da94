// The approver's side (docs/architecture.md, Flows: Approval): the requests waiting for this
// user's decision, starting a decision (the approver's key signs it on a ceremony page), and
// journaling it (approval-given) once the control plane has recorded it.
import type { ActivationView } from '../../shared/activation';
import type { Clock } from '../../shared/clock';
import type { DeviceSession } from './device-session';
import { pause } from './wait';

export class Approvals {
  constructor(
    private readonly session: DeviceSession,
    private readonly clock: Clock,
    /** the activation as the control plane reports it now (mirrored into agent.db) */
    private readonly get: (id: string) => Promise<ActivationView>,
  ) {}

  async pending(): Promise<ActivationView[]> {
    return (await this.session.client()).request('pendingApprovals', {});
  }

  /** Start an approval or denial; returns the ceremony where the approver's key signs it. */
  async decide(
    id: string,
    decision: 'approve' | 'deny',
    reason: string | null,
  ): Promise<{ ceremonyId: string; ceremonyUrl: string }> {
    const { ceremonyId, ceremonyUrl } = await (
      await this.session.client()
    ).request('decideApproval', {
      params: { id },
      body: { decision, reason },
    });
    return { ceremonyId, ceremonyUrl };
  }

  /** Wait until this approver's decision is recorded on the activation; then it is journaled
   *  (approval-given) before this returns. */
  async waitForDecision(
    id: string,
    approver: string,
    timeoutMs: number,
    opts: { intervalMs?: number; signal?: AbortSignal } = {},
  ): Promise<ActivationView> {
    const deadline = this.clock().getTime() + timeoutMs;
    for (;;) {
      const a = await this.get(id);
      const mine = a.approvals.find((x) => x.approver === approver);
      if (mine) {
        const journal = await this.session.chain();
        if (journal && !journal.has(a.id, 'approval-given')) {
          journal.append('approval-given', approver, {
            activation: a.id,
            role: a.role,
            requester: a.user,
            requestSha256: a.requestSha256,
            decision: mine.decision,
            reason: mine.reason,
          });
        }
        return a;
      }
      if (this.clock().getTime() > deadline || opts.signal?.aborted) return a;
      await pause(opts.intervalMs ?? 500);
    }
  }
}
