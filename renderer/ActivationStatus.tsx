// A role's current activation on its card: touch your key, waiting for approval, active with a
// countdown, its credentials, Extend and Deactivate (and an extension on its way), or how it ended.
import { useState } from 'react';
import type { ActivationView, ApiError, InjectionView, PimApi, RoleView } from '../shared/api';
import { activationStatus, extensionStatus, formatCountdown, LIVE } from './activation-format';
import { isElectronHost } from './client';
import { CredentialList } from './CredentialList';
import { openCeremony } from './open-ceremony';

export interface ActivationStatusProps {
  client: PimApi;
  role: string;
  activation: ActivationView;
  requirements: RoleView['decision']['requirements'] | null;
  server: string | null;
  nowMs: number;
  onChanged: () => void;
  onDismiss: (id: string) => void;
  /** the request extending this (active) activation, if one is on its way or was just refused */
  extension?: ActivationView | null;
  /** what was injected for it (kube contexts, AWS profiles, SSH certificates) */
  credentials?: InjectionView | null;
  /** offered on an active role; absent: no Extend button */
  onExtend?: () => void;
  extending?: boolean;
}

export function ActivationStatus({
  client,
  role,
  activation: a,
  requirements,
  server,
  nowMs,
  onChanged,
  onDismiss,
  extension,
  credentials,
  onExtend,
  extending = false,
}: ActivationStatusProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const text = activationStatus(a, requirements, nowMs);

  const end = async () => {
    setBusy(true);
    setError(null);
    const r = await client
      .deactivate(a.state === 'active' ? { role } : { id: a.id })
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    setBusy(false);
    if (!r.ok) setError(r.error);
    onChanged();
  };

  const open = (external: boolean, url = a.ceremonyUrl) => {
    if (!url) return;
    void openCeremony(client, url, server, { external }).then((err) => err && setError(err));
  };

  const withdrawExtension = async (id: string) => {
    setBusy(true);
    setError(null);
    const r = await client
      .deactivate({ id })
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    setBusy(false);
    if (!r.ok) setError(r.error);
    onChanged();
  };
  const ext = a.state === 'active' ? (extension ?? null) : null;
  const extText = ext ? extensionStatus(ext, requirements) : null;

  return (
    <div
      className={`activation activation--${text.tone}`}
      data-testid={`activation-state-${role}`}
      data-state={a.state}
    >
      <div className="activation__head">
        <p className="activation__title" aria-live="polite">
          <span className="activation__dot" aria-hidden="true" />
          {text.title}
        </p>
        {a.state === 'active' && a.expiresAt && (
          <span
            className="countdown"
            data-testid={`countdown-${role}`}
            title={`until ${new Date(a.expiresAt).toLocaleString()}`}
            aria-live="off"
          >
            {formatCountdown(Date.parse(a.expiresAt) - nowMs)} left
          </span>
        )}
      </div>
      {text.detail && a.state !== 'active' && (
        <p className="activation__detail" data-testid={`activation-detail-${role}`}>
          {text.detail}
        </p>
      )}

      {a.state === 'requested' && a.ceremonyUrl && (
        <div className="actions-row">
          <button
            type="button"
            className="button button--primary"
            data-testid={`open-ceremony-${role}`}
            aria-label={`Open security key page for ${role}`}
            onClick={() => open(false)}
          >
            Open security key page
          </button>
          {isElectronHost() && (
            <button
              type="button"
              className="link-button"
              data-testid={`open-ceremony-external-${role}`}
              aria-label={`Open in system browser: security key page for ${role}`}
              onClick={() => open(true)}
            >
              Open in system browser
            </button>
          )}
          <button
            type="button"
            className="link-button muted"
            data-testid={`withdraw-${role}`}
            aria-label={`Cancel request for ${role}`}
            onClick={() => void end()}
            disabled={busy}
          >
            Cancel request
          </button>
        </div>
      )}
      {a.state === 'pending-approval' && (
        <div className="actions-row">
          <button
            type="button"
            className="link-button muted"
            data-testid={`withdraw-${role}`}
            aria-label={`Withdraw request for ${role}`}
            onClick={() => void end()}
            disabled={busy}
          >
            Withdraw request
          </button>
        </div>
      )}
      {a.state === 'active' && credentials && <CredentialList role={role} injection={credentials} />}
      {a.state === 'active' && (
        <div className="actions-row">
          {onExtend && !(ext && LIVE.has(ext.state)) && (
            <button
              type="button"
              className="button"
              data-testid={`extend-${role}`}
              aria-label={`${extending ? 'Extending' : 'Extend'} ${role}`}
              onClick={onExtend}
              disabled={extending || busy}
              aria-busy={extending}
            >
              {extending ? 'Extending…' : 'Extend'}
            </button>
          )}
          <button
            type="button"
            className="button"
            data-testid={`deactivate-${role}`}
            aria-label={`${busy ? 'Deactivating' : 'Deactivate'} ${role}`}
            onClick={() => void end()}
            disabled={busy}
            aria-busy={busy}
          >
            {busy ? 'Deactivating…' : 'Deactivate'}
          </button>
        </div>
      )}
      {ext && extText && (
        <div
          className={`activation activation--${extText.tone} activation--nested`}
          data-testid={`extension-state-${role}`}
          data-state={ext.state}
        >
          <p className="activation__title" aria-live="polite">
            <span className="activation__dot" aria-hidden="true" />
            {extText.title}
          </p>
          {extText.detail && <p className="activation__detail">{extText.detail}</p>}
          {ext.state === 'requested' && ext.ceremonyUrl && (
            <div className="actions-row">
              <button
                type="button"
                className="button button--primary"
                data-testid={`open-extension-ceremony-${role}`}
                aria-label={`Open security key page for extending ${role}`}
                onClick={() => open(false, ext.ceremonyUrl)}
              >
                Open security key page
              </button>
              {isElectronHost() && (
                <button
                  type="button"
                  className="link-button"
                  aria-label={`Open in system browser: security key page for extending ${role}`}
                  onClick={() => open(true, ext.ceremonyUrl)}
                >
                  Open in system browser
                </button>
              )}
            </div>
          )}
          {(ext.state === 'requested' || ext.state === 'pending-approval') && (
            <div className="actions-row">
              <button
                type="button"
                className="link-button muted"
                data-testid={`withdraw-extension-${role}`}
                aria-label={`Cancel extension of ${role}`}
                onClick={() => void withdrawExtension(ext.id)}
                disabled={busy}
              >
                Cancel extension
              </button>
            </div>
          )}
          {!LIVE.has(ext.state) && (
            <button
              type="button"
              className="link-button muted activation__dismiss"
              data-testid={`dismiss-extension-${role}`}
              aria-label={`Dismiss extension of ${role}`}
              onClick={() => onDismiss(ext.id)}
            >
              Dismiss
            </button>
          )}
        </div>
      )}
      {!['requested', 'pending-approval', 'approved', 'active'].includes(a.state) && (
        <button
          type="button"
          className="link-button muted activation__dismiss"
          data-testid={`dismiss-${role}`}
          aria-label={`Dismiss ${role}`}
          onClick={() => onDismiss(a.id)}
        >
          Dismiss
        </button>
      )}
      {error && (
        <p className="field-error" role="alert" data-code={error.code}>
          {error.message}
        </p>
      )}
    </div>
  );
}
