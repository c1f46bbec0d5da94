import { useState, type SyntheticEvent } from 'react';
import type { AgentState, RoleView } from '../shared/api';
import { activeFirst, FILTER_THRESHOLD, filterRoles, otherRolesText, partitionRoles } from './format';
import { BlockedRoleCard, EligibleRoleCard, type RoleActions } from './RoleCard';

export function RoleSections({
  state,
  actions,
  activeRoles = new Set<string>(),
  loadOthers,
}: {
  state: Pick<AgentState, 'roles' | 'otherRoles'>;
  actions?: RoleActions;
  /** roles active now: listed first */
  activeRoles?: ReadonlySet<string>;
  /** the roles this user is not eligible for (listAllRoles), fetched when that list is opened */
  loadOthers?: () => Promise<RoleView[] | null>;
}) {
  const [query, setQuery] = useState('');
  const showFilter = state.roles.length > FILTER_THRESHOLD;
  const { eligible, blocked } = partitionRoles(
    filterRoles(activeFirst(state.roles, activeRoles), showFilter ? query : ''),
  );
  return (
    <>
      {showFilter && (
        <label className="role-filter">
          <input
            className="input"
            type="search"
            aria-label="Filter roles"
            data-testid="role-filter"
            placeholder={`Filter ${state.roles.length} roles`}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        </label>
      )}
      <section className="roles" aria-labelledby="eligible-heading">
        <h2 id="eligible-heading" className="section-title">
          Available roles
        </h2>
        {eligible.length > 0 ? (
          <ul className="role-list">
            {eligible.map((r) => (
              <EligibleRoleCard key={r.name} role={r} actions={actions} />
            ))}
          </ul>
        ) : (
          <p className="empty">
            {query && showFilter ? `No available role matches “${query}”.` : 'No roles can be activated right now.'}
          </p>
        )}
      </section>
      {blocked.length > 0 && (
        <details className="ineligible" data-testid="ineligible-section">
          <summary>Not available now ({blocked.length})</summary>
          <ul className="role-list">
            {blocked.map((r) => (
              <BlockedRoleCard key={r.name} role={r} actions={actions} />
            ))}
          </ul>
        </details>
      )}
      {state.otherRoles > 0 && <OtherRoles count={state.otherRoles} known={state.roles} load={loadOthers} />}
    </>
  );
}

/** "N other roles you are not eligible for", which opens to name them (fetched on first open). */
function OtherRoles({
  count,
  known,
  load,
}: {
  count: number;
  known: readonly RoleView[];
  load?: () => Promise<RoleView[] | null>;
}) {
  const [others, setOthers] = useState<RoleView[] | null | 'loading' | 'failed'>(null);
  if (!load) {
    return (
      <p className="other-roles" data-testid="other-roles-count">
        {otherRolesText(count)}
      </p>
    );
  }
  const onToggle = (e: SyntheticEvent<HTMLDetailsElement>) => {
    if (!e.currentTarget.open || others !== null) return;
    setOthers('loading');
    void load().then((all) => setOthers(all ? all.filter((r) => !known.some((k) => k.name === r.name)) : 'failed'));
  };
  return (
    <details className="other-roles" data-testid="other-roles" onToggle={onToggle}>
      <summary data-testid="other-roles-count">{otherRolesText(count)}</summary>
      {others === 'loading' && <p className="muted">Loading…</p>}
      {others === 'failed' && <p className="muted">Could not load them; try again after a refresh.</p>}
      {Array.isArray(others) && (
        <ul className="role-list">
          {others.map((r) => (
            <li key={r.name} className="role-card role-card--blocked" data-testid={`other-role-${r.name}`}>
              <h3 className="role-card__name">{r.name}</h3>
              {r.description && <p className="role-card__description">{r.description}</p>}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
