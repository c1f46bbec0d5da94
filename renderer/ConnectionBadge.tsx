import type { AgentState } from '../shared/api';
import { connectionView } from './format';

export function ConnectionBadge({ state }: { state: Pick<AgentState, 'connection' | 'lastError'> }) {
  const view = connectionView(state);
  return (
    <div
      className={`badge badge--${view.tone}`}
      role="status"
      data-testid="connection-badge"
      data-connection={view.connection}
    >
      <span className="badge__dot" aria-hidden="true" />
      {view.connection === 'unconfigured' ? (
        <span>
          Not connected — run <code>pim connect …</code> with your enrolment link
        </span>
      ) : (
        <span>{view.label}</span>
      )}
    </div>
  );
}
