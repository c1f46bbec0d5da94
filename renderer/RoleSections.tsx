import type { AgentState } from '../shared/api';
import { otherRolesText, partitionRoles } from './format';
import { BlockedRoleCard, EligibleRoleCard, type RoleActions } from './RoleCard';

export function RoleSections({ state, actions }: { state: Pick<AgentState, 'roles' | 'otherRoles'>; actions?: RoleActions }) {
  const { eligible, blocked } = partitionRoles(state.roles);
  return (
    <>
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
          <p className="empty">No roles can be activated right now.</p>
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
      {state.otherRoles > 0 && (
        <p className="other-roles" data-testid="other-roles-count">
          {otherRolesText(state.otherRoles)}
        </p>
      )}
    </>
  );
}
