import type { ApiError } from '../shared/api';

export interface ErrorBannerProps {
  loadError: ApiError | null;
  refreshError: ApiError | null;
  onDismissRefreshError: () => void;
}

/** Failures of calls to the agent; rendered only when there is something to say. */
export function ErrorBanner({ loadError, refreshError, onDismissRefreshError }: ErrorBannerProps) {
  if (!loadError && !refreshError) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner">
      {loadError && (
        <p>{loadError.code === 'agent-unreachable' ? loadError.message : `Could not load the agent state: ${loadError.message}`}</p>
      )}
      {refreshError && (
        <p>
          Refresh failed: {refreshError.message}{' '}
          <button type="button" className="link-button" onClick={onDismissRefreshError}>
            Dismiss
          </button>
        </p>
      )}
    </div>
  );
}
