// Requests waiting for this user's approval: who asks for what, for how long, why, with which
// ticket. Approve, or deny with a reason; either way the approver's key signs the decision on the
// control plane's ceremony page.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ActivationView, ApiError, PimApi } from '../shared/api';
import { durationLabel } from './activation-format';
import { isElectronHost } from './client';
import { formatRelative } from './format';
import { openCeremony } from './open-ceremony';

type Step =
  | { kind: 'deny-reason'; reason: string }
  | { kind: 'sending'; decision: 'approve' | 'deny' }
  | { kind: 'touch'; decision: 'approve' | 'deny'; ceremonyUrl: string };

const POLL_MS = 4000;

export function ApprovalsView({
  client,
  server,
  nowIso,
  onCount,
}: {
  client: PimApi;
  server: string | null;
  nowIso: string;
  onCount: (n: number) => void;
}) {
  const [list, setList] = useState<ActivationView[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [steps, setSteps] = useState<Record<string, Step>>({});
  const [done, setDone] = useState<{ id: string; text: string }[]>([]);
  const stepsRef = useRef(steps);
  stepsRef.current = steps;
  const listRef = useRef<ActivationView[] | null>(null);

  const load = useCallback(async () => {
    const r = await client
      .approvals({})
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    if (!r.ok) {
      setError(r.error);
      return;
    }
    setError(null);
    // a request we were deciding on that left the list: our decision (or someone else's) is in
    const gone = (listRef.current ?? []).filter(
      (a) => !r.value.some((b) => b.id === a.id) && stepsRef.current[a.id]?.kind === 'touch',
    );
    if (gone.length) {
      setDone((d) =>
        [
          ...gone.map((a) => ({
            id: a.id,
            text: `${(stepsRef.current[a.id] as { decision: string }).decision === 'approve' ? 'Approved' : 'Denied'}: ${a.user}'s ${a.role}. Your signed decision is recorded.`,
          })),
          ...d,
        ].slice(0, 5),
      );
      setSteps((s) => {
        const next = { ...s };
        for (const a of gone) delete next[a.id];
        return next;
      });
    }
    listRef.current = r.value;
    setList(r.value);
    onCount(r.value.length);
  }, [client, onCount]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  const setStep = (id: string, step: Step | null) =>
    setSteps((s) => {
      const next = { ...s };
      if (step) next[id] = step;
      else delete next[id];
      return next;
    });

  const decide = async (a: ActivationView, decision: 'approve' | 'deny', reason?: string) => {
    setStep(a.id, { kind: 'sending', decision });
    setError(null);
    const r = await client
      .decide({ id: a.id, decision, ...(reason ? { reason } : {}) })
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    if (!r.ok) {
      setStep(a.id, decision === 'deny' ? { kind: 'deny-reason', reason: reason ?? '' } : null);
      setError(r.error);
      void load();
      return;
    }
    setStep(a.id, { kind: 'touch', decision, ceremonyUrl: r.value.ceremonyUrl });
    // Electron opens the window itself (no popup blocker there); a browser needs the user's click
    if (isElectronHost()) void openCeremony(client, r.value.ceremonyUrl, server).then((err) => err && setError(err));
  };

  const open = (url: string, external: boolean) =>
    void openCeremony(client, url, server, { external }).then((err) => err && setError(err));

  return (
    <section className="approvals" data-testid="approvals-view" aria-labelledby="approvals-heading">
      <h2 id="approvals-heading" className="section-title">
        Waiting for your approval
      </h2>
      {error && (
        <p className="field-error" role="alert" data-testid="approvals-error" data-code={error.code}>
          {error.message}
        </p>
      )}
      {done.map((d) => (
        <p key={d.id} className="approval-done" role="status" data-testid={`decided-${d.id}`}>
          {d.text}
        </p>
      ))}
      {list === null && !error && <p className="empty">Loading…</p>}
      {list !== null && list.length === 0 && (
        <p className="empty" data-testid="approvals-empty">
          Nothing is waiting for you.
        </p>
      )}
      {list !== null && list.length > 0 && (
        <ul className="role-list">
          {list.map((a) => {
            const step = steps[a.id];
            const r = a.request;
            // what each button acts on, for screen readers: "Approve alice@acme.example's request for admin"
            const request = `${a.user}'s request for ${a.role}`;
            return (
              <li key={a.id} className="role-card approval" data-testid={`approval-${a.id}`}>
                <p className="approval__who">
                  <strong data-testid="approval-requester">{a.user}</strong> asks for{' '}
                  <strong data-testid="approval-role">{a.role}</strong> for{' '}
                  <strong data-testid="approval-duration">{durationLabel(r.duration)}</strong>
                </p>
                <dl className="facts">
                  <div className="fact">
                    <dt>Why</dt>
                    <dd data-testid="approval-justification">
                      {r.justification ? (
                        <q>{r.justification}</q>
                      ) : (
                        <span className="muted">no justification given</span>
                      )}
                    </dd>
                  </div>
                  <div className="fact">
                    <dt>Ticket</dt>
                    <dd data-testid="approval-ticket">{r.ticket ?? <span className="muted">none</span>}</dd>
                  </div>
                  <div className="fact">
                    <dt>Asked</dt>
                    <dd title={a.createdAt}>{formatRelative(a.createdAt, nowIso)}</dd>
                  </div>
                </dl>

                {!step && (
                  <div className="actions-row">
                    <button
                      type="button"
                      className="button button--primary"
                      data-testid={`approve-${a.id}`}
                      aria-label={`Approve ${request}`}
                      onClick={() => void decide(a, 'approve')}
                    >
                      Approve
                    </button>
                    <button
                      type="button"
                      className="button button--danger"
                      data-testid={`deny-${a.id}`}
                      aria-label={`Deny ${request}…`}
                      onClick={() => setStep(a.id, { kind: 'deny-reason', reason: '' })}
                    >
                      Deny…
                    </button>
                  </div>
                )}
                {step?.kind === 'deny-reason' && (
                  <form
                    className="deny-form"
                    onSubmit={(e) => {
                      e.preventDefault();
                      if (step.reason.trim()) void decide(a, 'deny', step.reason.replace(/\s+/g, ' ').trim());
                    }}
                  >
                    <label className="field">
                      <span className="field__label">Reason {a.user.split('@')[0]} will see (required)</span>
                      <textarea
                        className="input textarea"
                        data-testid="deny-reason"
                        rows={2}
                        maxLength={1000}
                        autoFocus
                        value={step.reason}
                        onChange={(e) => setStep(a.id, { kind: 'deny-reason', reason: e.target.value })}
                      />
                    </label>
                    <div className="actions-row">
                      <button
                        type="submit"
                        className="button button--danger"
                        data-testid={`deny-confirm-${a.id}`}
                        aria-label={`Deny ${request}`}
                        disabled={!step.reason.trim()}
                      >
                        Deny
                      </button>
                      <button
                        type="button"
                        className="link-button"
                        aria-label={`Cancel denying ${request}`}
                        onClick={() => setStep(a.id, null)}
                      >
                        Cancel
                      </button>
                    </div>
                  </form>
                )}
                {step?.kind === 'sending' && (
                  <p className="muted">Preparing your {step.decision === 'approve' ? 'approval' : 'denial'}…</p>
                )}
                {step?.kind === 'touch' && (
                  <div className="activation activation--action" data-testid={`approval-touch-${a.id}`}>
                    <p className="activation__title">
                      <span className="activation__dot" aria-hidden="true" />
                      Touch your security key to {step.decision === 'approve' ? 'approve' : 'deny'}
                    </p>
                    <p className="activation__detail">
                      Your key signs this decision on the security key page; it counts once it is signed.
                    </p>
                    <div className="actions-row">
                      <button
                        type="button"
                        className="button button--primary"
                        data-testid={`approval-open-ceremony-${a.id}`}
                        aria-label={`Open security key page to ${step.decision} ${request}`}
                        onClick={() => open(step.ceremonyUrl, false)}
                      >
                        Open security key page
                      </button>
                      {isElectronHost() && (
                        <button
                          type="button"
                          className="link-button"
                          aria-label={`Open in system browser: security key page to ${step.decision} ${request}`}
                          onClick={() => open(step.ceremonyUrl, true)}
                        >
                          Open in system browser
                        </button>
                      )}
                      <button
                        type="button"
                        className="link-button muted"
                        aria-label={`Start over on ${request}`}
                        onClick={() => setStep(a.id, null)}
                      >
                        Start over
                      </button>
                    </div>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
