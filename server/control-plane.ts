// The control plane's decisions about people: enrolment, activation requests, WebAuthn ceremonies,
// approvals, credentials and audit sync, each a service (services/) over the store (store/) in
// server.db. This file only builds them and hands each what it uses; HTTP lives in api/, and the
// routes and tests call the services as fields: cp.users, cp.enrolment, cp.activations, …
import { EventEmitter } from 'node:events';
import type { ServerConfig } from './config';
import { ActivationsService } from './services/activations';
import { ApprovalsService } from './services/approvals';
import { ApproverRules } from './services/approver-rules';
import { AuditService } from './services/audit';
import { EnrolmentService } from './services/enrolment';
import { systemClock, type Clock } from '../shared/clock';
import { IssuanceService } from './services/issuance';
import { KeyAssertions } from './services/key-assertions';
import { ActivationLifecycle } from './services/lifecycle';
import { PolicySource } from './services/policy';
import { UsersService } from './services/users';
import type { ServerDb } from './store/db';
import { Store } from './store/store';

export type { ActivationView } from '../shared/activation';
export type { Caller } from './services/ids';

export class ControlPlane {
  /** 'change' (activation id) after every state transition: what long-polling agents wait on */
  readonly events = new EventEmitter().setMaxListeners(0);
  /** the policy last published in the repository */
  readonly policy: PolicySource;
  readonly users: UsersService;
  readonly enrolment: EnrolmentService;
  readonly activations: ActivationsService;
  readonly approvals: ApprovalsService;
  readonly issuance: IssuanceService;
  readonly audit: AuditService;

  constructor(
    readonly dir: string,
    readonly db: ServerDb,
    readonly cfg: ServerConfig,
    private readonly clock: Clock = systemClock,
    /** a connection without fsync on commit (see openLightDb), for writes an OS crash may lose
     *  without harm: the replay cache and requests not signed yet; db when absent */
    lightDb: ServerDb | null = null,
  ) {
    const store = new Store(db, lightDb);
    const { transaction } = store;
    const policy = (this.policy = new PolicySource(dir));
    const rules = new ApproverRules(policy);
    const keys = new KeyAssertions({ cfg, users: store.users, transaction, clock });
    const lifecycle = new ActivationLifecycle({
      activations: store.activations,
      approvals: store.approvals,
      users: store.users,
      transaction,
      clock,
      policy,
      publicUrl: cfg.publicUrl,
      events: this.events,
    });
    this.users = new UsersService({
      users: store.users,
      enrolment: store.enrolment,
      transaction,
      clock,
      endAllOfDevice: (thumbprint, now) => lifecycle.endAllOfDevice(thumbprint, now),
    });
    this.enrolment = new EnrolmentService({ enrolment: store.enrolment, users: store.users, transaction, clock, cfg });
    const decisions = { users: store.users, transaction, lifecycle, policy, rules, keys, clock, cfg };
    this.activations = new ActivationsService({
      ...decisions,
      activations: store.activations,
      approvals: store.approvals,
      events: this.events,
    });
    this.approvals = new ApprovalsService({ ...decisions, approvals: store.approvals, activations: store.activations });
    this.issuance = new IssuanceService({ dir, clock, publicUrl: cfg.publicUrl, lifecycle, policy });
    this.audit = new AuditService({ store: store.audit, dir, clock });
  }

  /** The control plane's clock (tests move it): device signatures and audit acks are dated by it. */
  clockNow(): Date {
    return this.clock();
  }
}
