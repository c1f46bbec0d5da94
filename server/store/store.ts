// The control plane's store: one module per concern over server.db (better-sqlite3, synchronous),
// and the transaction that spans them. The services depend on these shapes, not on SQLite, so
// another database can stand behind the same classes' interfaces.
import type { ServerDb } from './db';
import { ActivationsStore } from './activations-store';
import { ApprovalsStore } from './approvals-store';
import { AuditStore } from './audit-store';
import { EnrolmentStore } from './enrolment-store';
import { Statements } from './statements';
import { SyslogCursorStore } from './syslog-cursor-store';
import { UsersStore } from './users-store';

/** Runs fn atomically: all of its writes commit together, or none (it rethrows). Nested calls
 *  join the enclosing transaction (a savepoint). */
export type Transact = <T>(fn: () => T) => T;

export class Store {
  readonly users: UsersStore;
  readonly enrolment: EnrolmentStore;
  readonly activations: ActivationsStore;
  readonly approvals: ApprovalsStore;
  readonly audit: AuditStore;
  readonly syslogCursors: SyslogCursorStore;

  constructor(
    private readonly db: ServerDb,
    /** see Statements: the no-fsync connection, for what an OS crash may lose without harm */
    lightDb: ServerDb | null = null,
  ) {
    const st = new Statements(db, lightDb);
    this.users = new UsersStore(st);
    this.enrolment = new EnrolmentStore(st);
    this.activations = new ActivationsStore(st);
    this.approvals = new ApprovalsStore(st);
    this.audit = new AuditStore(st);
    this.syslogCursors = new SyslogCursorStore(st);
  }

  readonly transaction: Transact = (fn) => this.db.transaction(fn)();
}
