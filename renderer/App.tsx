// The tray popover: who and where, how fresh the policy is, and which roles can be activated.
import type { PimApi } from '../shared/api';
import { ConnectionBadge } from './ConnectionBadge';
import { ErrorBanner } from './ErrorBanner';
import { PolicyStatus } from './PolicyStatus';
import { RoleSections } from './RoleSections';
import { serverLabel } from './format';
import { useAgentState } from './useAgentState';

export function App({ client, pollMs = 2000 }: { client: PimApi; pollMs?: number }) {
  const { state, loadError, refreshing, refreshError, refresh, dismissRefreshError } = useAgentState(client, pollMs);

  return (
    <div className="app">
      <header className="app-header">
        <h1 className="app-title">PIM Agent</h1>
        {state?.user && (
          <p className="identity">
            <span className="identity__email" data-testid="user-email">
              {state.user.email}
            </span>
            {state.server && (
              <span className="identity__server" title={state.server}>
                {serverLabel(state.server)}
              </span>
            )}
          </p>
        )}
      </header>

      {state && <ConnectionBadge state={state} />}

      {state && (
        <div className="policy-row">
          <PolicyStatus state={state} />
          <button
            type="button"
            className="button"
            data-testid="refresh-button"
            onClick={() => void refresh()}
            disabled={refreshing}
            aria-busy={refreshing}
          >
            {refreshing ? 'Refreshing…' : 'Refresh'}
          </button>
        </div>
      )}

      <ErrorBanner loadError={loadError} refreshError={refreshError} onDismissRefreshError={dismissRefreshError} />

      <main className="content">
        {state
          ? !(state.connection === 'unconfigured' && state.roles.length === 0) && <RoleSections state={state} />
          : !loadError && <p className="empty">Connecting to the agent…</p>}
      </main>
    </div>
  );
}
