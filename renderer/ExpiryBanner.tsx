// "gpu-admin ends in 2 minutes" with a one-click Extend: one banner line per notice the agent
// reports (active roles ending within 10, then 2 minutes). Extending is a new signed request, so
// the line then asks for the key touch — the ceremony opens as it does for activating.
import type { ActivationView, AgentState } from '../shared/api';
import { noticeText } from '../shared/notices';
import { extensionFor, extensionStatus, LIVE } from './activation-format';
import { isElectronHost } from './client';

type Notice = AgentState['notices'][number];

export interface ExpiryBannerProps {
  notices: readonly Notice[];
  activations: readonly ActivationView[];
  /** the agent's clock (the minutes count down between polls) */
  nowMs: number;
  /** roles whose extend request is being sent */
  extending: ReadonlySet<string>;
  onExtend: (role: string) => void;
  onOpenCeremony: (url: string, external: boolean) => void;
  onDismiss: (key: string) => void;
}

/** The notice with its minutes counted from `nowMs` (1 in the last minute). */
export function liveNotice(n: Notice, nowMs: number): Notice {
  const left = Date.parse(n.expiresAt) - nowMs;
  return Number.isFinite(left) ? { ...n, minutesLeft: Math.max(1, Math.ceil(left / 60_000)) } : n;
}

export function ExpiryBanner({
  notices,
  activations,
  nowMs,
  extending,
  onExtend,
  onOpenCeremony,
  onDismiss,
}: ExpiryBannerProps) {
  const shown = notices.filter((n) => Date.parse(n.expiresAt) > nowMs);
  if (shown.length === 0) return null;
  return (
    <section className="expiry-banner" data-testid="expiry-banner" aria-label="Roles ending soon">
      {shown.map((n) => {
        const active = activations.find((a) => a.id === n.activation) ?? null;
        const ext = active ? extensionFor(active, activations) : null;
        const pending = ext !== null && LIVE.has(ext.state) ? ext : null;
        const busy = extending.has(n.role);
        return (
          <div
            key={n.key}
            className={`expiry-notice expiry-notice--t${n.threshold}`}
            role="status"
            data-testid={`expiry-notice-${n.role}`}
            data-key={n.key}
            data-activation={n.activation}
            data-threshold={n.threshold}
          >
            <p className="expiry-notice__text">
              <span className="expiry-notice__icon" aria-hidden="true" />
              <span data-testid="expiry-notice-text">{noticeText(liveNotice(n, nowMs))}</span>
            </p>
            {pending ? (
              <div
                className="expiry-notice__step"
                data-testid={`notice-extension-${n.role}`}
                data-state={pending.state}
              >
                <p className="expiry-notice__detail">{extensionStatus(pending, null).title}</p>
                {pending.state === 'requested' && pending.ceremonyUrl && (
                  <div className="actions-row">
                    <button
                      type="button"
                      className="button button--primary button--small"
                      data-testid={`notice-open-ceremony-${n.role}`}
                      onClick={() => onOpenCeremony(pending.ceremonyUrl!, false)}
                    >
                      Open security key page
                    </button>
                    {isElectronHost() && (
                      <button
                        type="button"
                        className="link-button"
                        onClick={() => onOpenCeremony(pending.ceremonyUrl!, true)}
                      >
                        Open in system browser
                      </button>
                    )}
                  </div>
                )}
              </div>
            ) : (
              <div className="actions-row">
                <button
                  type="button"
                  className="button button--primary button--small"
                  data-testid={`notice-extend-${n.role}`}
                  onClick={() => onExtend(n.role)}
                  disabled={busy}
                  aria-busy={busy}
                >
                  {busy ? 'Extending…' : 'Extend'}
                </button>
                <button
                  type="button"
                  className="link-button muted"
                  data-testid={`notice-dismiss-${n.role}`}
                  onClick={() => onDismiss(n.key)}
                >
                  Later
                </button>
              </div>
            )}
          </div>
        );
      })}
    </section>
  );
}
