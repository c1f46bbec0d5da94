import type { ApiError } from '../shared/api';

/** A failed action started outside a dialog (e.g. Extend from the expiry banner). */
export interface ActionError {
  /** "Could not extend gpu-admin" */
  title: string;
  error: ApiError;
}

export interface ErrorBannerProps {
  loadError: ApiError | null;
  refreshError: ApiError | null;
  onDismissRefreshError: () => void;
  actionError?: ActionError | null;
  onDismissActionError?: () => void;
}

/** Failures of calls to the agent; rendered only when there is something to say. */
export function ErrorBanner({
  loadError,
  refreshError,
  onDismissRefreshError,
  actionError,
  onDismissActionError,
}: ErrorBannerProps) {
  if (!loadError && !refreshError && !actionError) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner">
      {loadError && (
        <p>
          {loadError.code === 'agent-unreachable'
            ? loadError.message
            : `Could not load the agent state: ${loadError.message}`}
        </p>
      )}
      {refreshError && (
        <p>
          Refresh failed: {refreshError.message}{' '}
          <button type="button" className="link-button" onClick={onDismissRefreshError}>
            Dismiss
          </button>
        </p>
      )}
      {actionError && (
        <p data-testid="action-error" data-code={actionError.error.code}>
          {actionError.title}: {actionError.error.message}{' '}
          {onDismissActionError && (
            <button type="button" className="link-button" onClick={onDismissActionError}>
              Dismiss
            </button>
          )}
        </p>
      )}
    </div>
  );
}
