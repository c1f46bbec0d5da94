// The agent's side of enrolment, activation and approval (docs/architecture.md, Flows), behind one
// facade for its callers (agent/api, agent/cli, the tracker). The work is done by small parts, each
// given only what it uses:
//   enrolment.ts       pin the trust root, create the device key, wait for the security key
//   activations.ts     request (checked offline first), extend, hold (long polls), deactivate, list
//   local-end.ts       end activations here and now (screen lock, suspend), tell the control plane later
//   approvals.ts       requests waiting for this user's decision; the decision, journaled
//   mirror.ts          agent.db's copy of each activation, journaled in the same transaction
//   evidence.ts        which record a state makes, and the evidence of the key touch it carries
//   device-session.ts  the device key, the signed control-plane client, the journal's chain
//
// Each step is journaled (agent/audit/journal.ts) before it is reported done: the
// enrolment, the request sent, every state this device's activations are seen to reach — with the
// request bytes, nonce and WebAuthn assertion once the key was touched, so anyone can re-verify
// it — and the approvals this user gives. A journal that cannot be written refuses new requests.
import type { ActivationView } from '../../shared/activation';
import { systemClock, type Clock } from '../../shared/clock';
import type { Agent } from '../agent';
import type { CredentialManager } from '../credentials/manager';
import { Activations, type WaitOptions, type WaitResult } from './activations';
import { Approvals } from './approvals';
import { ControlPlaneError } from './cp-client';
import { DeviceSession } from './device-session';
import { Enrolment, type BeginOptions, type EnrolOptions, type PendingEnrolment } from './enrolment';
import { LocalEnds } from './local-end';
import { ActivationMirror } from './mirror';

export type { ActivationEvidence } from './evidence';
export { auditTypeFor } from './evidence';
export { parseEnrolmentLink, type EnrolmentLink, type PendingEnrolment } from './enrolment';

export class ActivationService {
  private readonly enrolment: Enrolment;
  private readonly activations: Activations;
  private readonly localEnds: LocalEnds;
  private readonly approvalsOf: Approvals;
  private manager: CredentialManager | undefined;

  constructor(
    private readonly agent: Agent,
    clock: Clock = systemClock,
  ) {
    const store = agent.store;
    const journal = () => agent.journal();
    const changed = () => agent.emitChange();
    const session = new DeviceSession({ store, home: agent.home, journal });
    const mirror = new ActivationMirror(store, clock, session, changed);
    this.localEnds = new LocalEnds(store, clock, session, mirror);
    this.enrolment = new Enrolment({
      home: agent.home,
      clock,
      session,
      journal,
      connect: (c) => agent.connect(c),
    });
    this.activations = new Activations({
      store,
      clock,
      session,
      mirror,
      localEnds: this.localEnds,
      policy: agent,
      newSshKey: async () => (await this.credentials()).newSshKey(),
      changed,
    });
    this.approvalsOf = new Approvals(session, clock, (id) => this.activations.get(id));
  }

  /** What puts this agent's active roles into kubeconfig, ~/.aws/config and the ssh-agent. */
  async credentials(): Promise<CredentialManager> {
    if (!this.manager) {
      const { CredentialManager } = await import('../credentials/manager');
      this.manager = new CredentialManager(this.agent);
    }
    return this.manager;
  }

  /** Enrol this device (Enrolment.enroll). */
  enroll(link: string, opts: EnrolOptions): Promise<{ user: string; server: string }> {
    return this.enrolment.enroll(link, opts);
  }

  /** The first half of enrolment, which returns at once (Enrolment.begin). */
  beginEnrolment(link: string, opts: BeginOptions = {}): Promise<PendingEnrolment> {
    return this.enrolment.begin(link, opts);
  }

  /** Ask for a role: checked offline first, then sent; returns the ceremony to sign it in. */
  request(
    role: string,
    ask: { duration?: number; justification?: string; ticket?: string; extends?: string },
  ): Promise<ActivationView> {
    return this.activations.request(role, ask);
  }

  /** Ask for more time on an active role: a new signed request chained to the active one. */
  extend(role: string, ask: { duration?: number; justification?: string; ticket?: string }): Promise<ActivationView> {
    return this.activations.extend(role, ask);
  }

  /** This user's live activation of `role` on the control plane, if there is one. */
  activeOn(role: string): Promise<ActivationView | null> {
    return this.activations.activeOn(role);
  }

  get(id: string): Promise<ActivationView> {
    return this.activations.get(id);
  }

  /** Wait (long polls) until the request is signed — or decided (Activations.wait). */
  wait(id: string, opts: WaitOptions): Promise<WaitResult> {
    return this.activations.wait(id, opts);
  }

  /** End `role`; with a `reason`, ended here first (Activations.deactivate). */
  deactivate(role: string, opts: { reason?: string } = {}): Promise<ActivationView[]> {
    return this.activations.deactivate(role, opts);
  }

  /** End this user's live activations of `roles` from agent.db alone (LocalEnds.endLocally). */
  endLocally(roles: readonly string[], reason: string): Promise<ActivationView[]> {
    return this.localEnds.endLocally(roles, reason);
  }

  /** Tell the control plane about the ends made here; returns how many still wait (offline). */
  tellEnded(): Promise<number> {
    return this.localEnds.tellEnded();
  }

  /** End one activation (or withdraw one request) by its id. */
  deactivateId(id: string): Promise<ActivationView> {
    return this.activations.deactivateId(id);
  }

  list(): Promise<ActivationView[]> {
    return this.activations.list();
  }

  approvals(): Promise<ActivationView[]> {
    return this.approvalsOf.pending();
  }

  /** Start an approval or denial; returns the ceremony where the approver's key signs it. */
  decide(
    id: string,
    decision: 'approve' | 'deny',
    reason: string | null,
  ): Promise<{ ceremonyId: string; ceremonyUrl: string }> {
    return this.approvalsOf.decide(id, decision, reason);
  }

  /** Wait until this approver's decision is recorded on the activation, then journal it. */
  waitForDecision(
    id: string,
    approver: string,
    timeoutMs: number,
    opts: { intervalMs?: number; signal?: AbortSignal } = {},
  ): Promise<ActivationView> {
    return this.approvalsOf.waitForDecision(id, approver, timeoutMs, opts);
  }
}

export { ControlPlaneError };
