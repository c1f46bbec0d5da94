// Ending activations on this device alone (the screen locks, the machine suspends, often offline),
// and telling the control plane afterwards: the queue of ends it has not confirmed lives in agent.db.
import type { ActivationView } from '../../shared/activation';
import type { Clock } from '../../shared/clock';
import type { AgentStore } from '../store/agent-store';
import { ControlPlaneError } from './cp-client';
import type { DeviceSession } from './device-session';
import type { ActivationMirror } from './mirror';

export class LocalEnds {
  constructor(
    private readonly store: AgentStore,
    private readonly clock: Clock,
    private readonly session: DeviceSession,
    private readonly mirror: ActivationMirror,
  ) {}

  /**
   * Ends this user's live activations of `roles` here and now, from agent.db alone — no network
   * (the screen locks, the machine suspends, often offline): each is marked deactivated with
   * `reason`, journaled in the same transaction, and queued for the control plane. The caller
   * kicks the credential scheduler, which removes their kube/AWS/SSH credentials at once.
   * tellEnded (also run before every list()) tells the control plane, until it has answered.
   */
  async endLocally(roles: readonly string[], reason: string): Promise<ActivationView[]> {
    const conn = this.store.connection();
    if (!conn || roles.length === 0) return [];
    const wanted = new Set(roles);
    const now = this.clock();
    const ended = this.store
      .liveActivations(conn.user)
      .map((row) => this.store.activationView(row.id))
      .filter((v): v is ActivationView => v !== null && wanted.has(v.role))
      .map((v) => ({ ...v, state: 'deactivated' as const, endReason: `ended by this device: ${reason}` }));
    if (ended.length === 0) return [];
    await this.mirror.rememberLocalEnd(ended, reason, now);
    return ended;
  }

  /** Tells the control plane about activations endLocally ended; those it has answered for leave
   *  the queue. Returns how many still wait (offline). */
  async tellEnded(): Promise<number> {
    const pending = this.store.pendingDeactivations();
    if (pending.length === 0) return 0;
    const client = await this.session.client();
    const answered = (id: string) =>
      this.store.setPendingDeactivations(this.store.pendingDeactivations().filter((x) => x !== id));
    for (const id of pending) {
      try {
        const v = await client.request('deactivateActivation', { params: { id }, body: {} });
        answered(id);
        await this.mirror.remember(v);
      } catch (e) {
        // 404/409: unknown there, or already ended (expired, revoked) — an answer all the same
        if (e instanceof ControlPlaneError && (e.status === 404 || e.status === 409)) answered(id);
        else throw e;
      }
    }
    return this.store.pendingDeactivations().length;
  }
}
