// Mirrors activations into agent.db, journaling each state this device's activations are seen to
// reach in the same transaction — so the new state is durable in the journal before anyone is told.
import type { ActivationView } from '../../shared/activation';
import { TERMINAL, type ActivationState } from '../../shared/activation-state';
import type { AuditType } from '../../shared/audit';
import type { Clock } from '../../shared/clock';
import type { AuditData } from '../audit/journal';
import type { AgentStore } from '../store/agent-store';
import type { DeviceSession } from './device-session';
import { auditTypeFor, fetchEvidence, WITH_EVIDENCE } from './evidence';

const LIVE: ReadonlySet<ActivationState> = new Set(['requested', 'pending-approval', 'approved', 'active']);

export class ActivationMirror {
  constructor(
    private readonly store: AgentStore,
    private readonly clock: Clock,
    private readonly session: DeviceSession,
    /** tells the agent's listeners (tray, UI) that something they show changed */
    private readonly changed: () => void,
  ) {}

  /**
   * Mirrors activations into agent.db. When one of this device's activations is seen in a state
   * the journal has no record of yet, the record is appended in the same transaction — so the new
   * state is durable in the journal before anyone is told about it.
   */
  async remember(...all: ActivationView[]): Promise<void> {
    // an end is final: a view of an activation as still live, fetched before the control plane
    // heard of an end made here (endLocally, or a concurrent list), must not bring it back
    const views = all.filter(
      (a) => !(LIVE.has(a.state) && TERMINAL.has(this.store.activationState(a.id) as ActivationState)),
    );
    const journal = await this.session.chain();
    const user = this.store.connection()?.user ?? null;
    const device = journal?.device();
    const records: { type: AuditType; data: AuditData; id: string }[] = [];
    if (journal) {
      for (const a of views) {
        const type = auditTypeFor(a);
        if (!type || a.request.device !== device || journal.has(a.id, type)) continue;
        const data = recordOf(a);
        if (WITH_EVIDENCE.has(type)) Object.assign(data, await fetchEvidence(() => this.session.client(), a));
        records.push({ type, data, id: a.id });
      }
    }
    const now = this.clock();
    const save = () => {
      for (const r of records) if (!journal!.has(r.id, r.type)) journal!.append(r.type, user, r.data);
      for (const a of views) this.store.saveActivation(a, now);
    };
    if (journal) journal.write(save);
    else this.store.transaction(save);
    this.changed();
  }

  /** The local end, its journal record (with the reason) and the queue entry: one transaction. */
  async rememberLocalEnd(ended: ActivationView[], reason: string, now: Date): Promise<void> {
    const journal = await this.session.chain();
    const device = journal?.device();
    const save = () => {
      for (const a of ended) {
        if (journal && a.request.device === device && !journal.has(a.id, 'activation-deactivated')) {
          journal.append('activation-deactivated', this.store.connection()?.user ?? null, { ...recordOf(a), reason });
        }
        this.store.saveActivation(a, now);
      }
      this.store.setPendingDeactivations([
        ...new Set([...this.store.pendingDeactivations(), ...ended.map((a) => a.id)]),
      ]);
    };
    if (journal) journal.write(save);
    else this.store.transaction(save);
    this.changed();
  }
}

/** What the journal keeps of an activation when its state changes. */
function recordOf(a: ActivationView): AuditData {
  return {
    activation: a.id,
    role: a.role,
    state: a.state,
    kind: a.request.kind,
    extends: a.request.extends,
    startsAt: a.startsAt,
    expiresAt: a.expiresAt,
    endReason: a.endReason,
  };
}
