import type { ActivationView, InjectionView, PimApi, RoleView } from '../shared/api';
import { LIVE } from './activation-format';
import { ActivationStatus } from './ActivationStatus';
import { blockingReasons, notices, requirementChips } from './format';

/** What the cards need to show and change a role's activation. */
export interface RoleActions {
  client: PimApi;
  server: string | null;
  nowMs: number;
  /** null: roles can be seen but not activated (not enrolled), with this reason */
  cannotActivate: string | null;
  activationFor: (role: string) => ActivationView | null;
  onActivate: (role: RoleView) => void;
  onChanged: () => void;
  onDismiss: (id: string) => void;
  /** the extension request of an active activation, if any */
  extensionFor: (active: ActivationView) => ActivationView | null;
  /** what was injected for an activation */
  credentialsFor: (a: ActivationView) => InjectionView | null;
  /** one-click extend of an active role (null: not offered, e.g. not enrolled) */
  onExtend: ((role: string) => void) | null;
  /** roles whose extend request is being sent */
  extending: ReadonlySet<string>;
}

function Status({ role, actions }: { role: RoleView; actions: RoleActions }) {
  const a = actions.activationFor(role.name);
  if (!a) return null;
  return (
    <ActivationStatus
      client={actions.client}
      role={role.name}
      activation={a}
      requirements={role.decision.requirements}
      server={actions.server}
      nowMs={actions.nowMs}
      onChanged={actions.onChanged}
      onDismiss={actions.onDismiss}
      extension={actions.extensionFor(a)}
      credentials={actions.credentialsFor(a)}
      onExtend={actions.onExtend ? () => actions.onExtend?.(role.name) : undefined}
      extending={actions.extending.has(role.name)}
    />
  );
}

/** An activatable role: what it is, what activating it takes, and its activation if any. */
export function EligibleRoleCard({ role, actions }: { role: RoleView; actions?: RoleActions }) {
  const chips = requirementChips(role.decision.requirements);
  const notes = notices(role);
  const current = actions?.activationFor(role.name) ?? null;
  const live = current !== null && LIVE.has(current.state);
  return (
    <li
      className={`role-card${current?.state === 'active' ? ' role-card--active' : ''}`}
      data-testid={`role-card-${role.name}`}
    >
      <div className="role-card__top">
        <h3 className="role-card__name">{role.name}</h3>
        {actions && !live && (
          <button
            type="button"
            className="button button--small"
            data-testid={`activate-${role.name}`}
            onClick={() => actions.onActivate(role)}
            disabled={actions.cannotActivate !== null}
            title={actions.cannotActivate ?? `Activate ${role.name}`}
            aria-label={`Activate ${role.name}`}
          >
            Activate
          </button>
        )}
      </div>
      {role.description && <p className="role-card__description">{role.description}</p>}
      {chips.length > 0 && (
        <ul className="chips" aria-label="Requirements">
          {chips.map((c) => (
            <li key={c.key} className={`chip chip--${c.key.replace(/-\d+$/, '')}`} title={c.title}>
              {c.label}
            </li>
          ))}
        </ul>
      )}
      {notes.length > 0 && (
        <ul className="notices" aria-label="Notices">
          {notes.map((n, i) => (
            <li key={`${n.code}-${i}`}>{n.message}</li>
          ))}
        </ul>
      )}
      {actions && <Status role={role} actions={actions} />}
    </li>
  );
}

/** A role named for the user that cannot be activated right now, and why (and its activation, if
 *  one is still running — e.g. an active role whose window has closed). */
export function BlockedRoleCard({ role, actions }: { role: RoleView; actions?: RoleActions }) {
  const reasons = blockingReasons(role);
  return (
    <li className="role-card role-card--blocked" data-testid={`role-card-${role.name}`}>
      <h3 className="role-card__name">{role.name}</h3>
      {role.description && <p className="role-card__description">{role.description}</p>}
      <ul className="reasons" data-testid={`role-reason-${role.name}`} aria-label="Why not">
        {reasons.length > 0 ? (
          reasons.map((r, i) => <li key={`${r.code}-${i}`}>{r.message}</li>)
        ) : (
          <li>not available right now</li>
        )}
      </ul>
      {actions && <Status role={role} actions={actions} />}
    </li>
  );
}
