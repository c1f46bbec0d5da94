// The activate dialog: duration (within the role's maximum), justification, ticket checked as the
// user types, and what else activating takes (approval, key + PIN, time windows). Submitting sends
// the request; the role card then asks for the key touch.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { ActivationView, ApiError, PimApi, RoleView } from '../shared/api';
import { approverText, checkActivateForm, durationChoices, durationLabel, oneLine } from './activation-format';
import { formatWindow, notices, ticketHint } from './format';

export function ActivateDialog({
  client,
  role,
  initialDuration = null,
  onClose,
  onRequested,
}: {
  client: PimApi;
  role: RoleView;
  /** a duration a link asked for: used when it is one of the choices */
  initialDuration?: number | null;
  onClose: () => void;
  onRequested: (a: ActivationView) => void;
}) {
  const r = role.decision.requirements;
  const choices = useMemo(() => durationChoices(r.maxDuration, r.defaultDuration), [r.maxDuration, r.defaultDuration]);
  const [duration, setDuration] = useState(
    initialDuration !== null && choices.some((c) => c.value === initialDuration)
      ? initialDuration
      : r.defaultDuration > 0 && r.defaultDuration <= r.maxDuration
        ? r.defaultDuration
        : (choices[0]?.value ?? r.maxDuration),
  );
  const [justification, setJustification] = useState('');
  const [ticket, setTicket] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [justTouched, setJustTouched] = useState(false);
  const first = useRef<HTMLSelectElement>(null);
  const ids = useId();
  const check = checkActivateForm(r, { duration, justification, ticket });
  const showTicket = r.ticket.required || r.ticket.pattern !== null;
  const otherNotes = notices(role).filter((n) => n.code !== 'approval-required');

  // Focus the first field once, when the dialog opens. The parent hands a new onClose on every
  // render (each state push from the agent): were focus tied to it, an update arriving while she
  // types the ticket would move the caret to the duration and her next keys with it.
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    first.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') closeRef.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setJustTouched(true);
    if (!check.ok || busy) return;
    setBusy(true);
    setError(null);
    const just = oneLine(justification);
    const t = ticket.trim();
    const res = await client
      .activate({ role: role.name, duration, ...(just ? { justification: just } : {}), ...(t ? { ticket: t } : {}) })
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    setBusy(false);
    if (!res.ok) {
      setError(res.error);
      return;
    }
    onRequested(res.value);
  };

  // aria-modal promises that nothing behind the dialog can be reached: make that true for the
  // keyboard too (the rest of the popover is inert while it is open), and give focus back to the
  // control that opened it when it closes
  const backdrop = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const el = backdrop.current;
    const behind = el?.parentElement
      ? [...el.parentElement.children].filter((c): c is HTMLElement => c !== el && c instanceof HTMLElement && !c.inert)
      : [];
    for (const b of behind) b.inert = true;
    return () => {
      for (const b of behind) b.inert = false;
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const ticketTone = check.ticket.state === 'valid' ? 'ok' : check.ticket.state === 'invalid' ? 'bad' : 'neutral';
  return (
    <div ref={backdrop} className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${ids}-title`}
        data-testid="activate-dialog"
      >
        <form onSubmit={(e) => void submit(e)} noValidate>
          <header className="dialog__header">
            <h2 id={`${ids}-title`} className="dialog__title">
              Activate <span className="mono-ish">{role.name}</span>
            </h2>
            {role.description && <p className="muted">{role.description}</p>}
          </header>

          <label className="field">
            <span className="field__label">Duration</span>
            <select
              ref={first}
              className="input"
              data-testid="duration-select"
              value={duration}
              onChange={(e) => setDuration(Number(e.target.value))}
            >
              {choices.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                  {c.value === r.defaultDuration ? ' (default)' : ''}
                </option>
              ))}
            </select>
            <span className="field__hint">At most {durationLabel(r.maxDuration)}.</span>
          </label>

          <label className="field">
            <span className="field__label">
              Justification{' '}
              <span className="muted">{r.justification === 'required' ? '(required)' : '(optional)'}</span>
            </span>
            <textarea
              className="input textarea"
              data-testid="justification-input"
              rows={3}
              maxLength={1000}
              value={justification}
              placeholder="What you will do and why"
              onChange={(e) => setJustification(e.target.value)}
              onBlur={() => setJustTouched(true)}
              aria-invalid={justTouched && !check.justification.ok}
              aria-describedby={`${ids}-just`}
            />
            <span
              id={`${ids}-just`}
              className={`field__hint${justTouched && !check.justification.ok ? ' field__hint--bad' : ''}`}
            >
              {justTouched && check.justification.message
                ? check.justification.message
                : 'Approvers and the audit log see it.'}
            </span>
          </label>

          {showTicket && (
            <label className="field">
              <span className="field__label">
                Ticket <span className="muted">{r.ticket.required ? '(required)' : '(optional)'}</span>
              </span>
              <input
                className="input"
                data-testid="ticket-input"
                type="text"
                autoComplete="off"
                spellCheck={false}
                maxLength={128}
                placeholder={r.ticket.hint ?? (r.ticket.pattern ? ticketHint(r.ticket.pattern) : 'ticket id')}
                value={ticket}
                onChange={(e) => setTicket(e.target.value)}
                aria-invalid={check.ticket.state === 'invalid'}
                aria-describedby={`${ids}-ticket`}
              />
              <span
                id={`${ids}-ticket`}
                className={`field__hint field__hint--${ticketTone}`}
                data-testid="ticket-hint"
                data-valid={String(check.ticket.ok)}
                data-state={check.ticket.state}
                aria-live="polite"
              >
                {check.ticket.state === 'valid' ? '✓ ' : check.ticket.state === 'invalid' ? '✗ ' : ''}
                {check.ticket.message}
              </span>
            </label>
          )}

          <ul className="dialog__notices" aria-label="What activating takes">
            {r.approval && (
              <li data-testid="approval-notice">
                Needs approval by {approverText(r.approval)}
                {r.approval.selfApproval ? '' : ' (not yourself)'} before it starts.
              </li>
            )}
            {r.userVerification === 'required' && (
              <li data-testid="uv-notice">Key + PIN: your security key will ask for its PIN (or fingerprint).</li>
            )}
            {r.windows.length > 0 && <li>Only {r.windows.map(formatWindow).join(' or ')}.</li>}
            {otherNotes.map((n, i) => (
              <li key={`${n.code}-${i}`}>{n.message}</li>
            ))}
            {!r.approval && <li>Starts as soon as you touch your key.</li>}
          </ul>

          {error && (
            <p className="field-error" role="alert" data-testid="activate-error" data-code={error.code}>
              {error.message}
            </p>
          )}

          <div className="dialog__actions">
            <button type="button" className="button" data-testid="activate-cancel" onClick={onClose}>
              Cancel
            </button>
            <button
              type="submit"
              className="button button--primary"
              data-testid="activate-submit"
              aria-label={`${busy ? 'Sending' : 'Request'} ${role.name}`}
              disabled={!check.ok || busy}
              aria-busy={busy}
            >
              {busy ? 'Sending…' : 'Request'}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
