import type { RoleView } from '../shared/api';
import { blockingReasons, notices, requirementChips } from './format';

/** An activatable role: what it is and what activating it takes. */
export function EligibleRoleCard({ role }: { role: RoleView }) {
  const chips = requirementChips(role.decision.requirements);
  const notes = notices(role);
  return (
    <li className="role-card" data-testid={`role-card-${role.name}`}>
      <h3 className="role-card__name">{role.name}</h3>
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
    </li>
  );
}

/** A role named for the user that cannot be activated right now, and why. */
export function BlockedRoleCard({ role }: { role: RoleView }) {
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
    </li>
  );
}
