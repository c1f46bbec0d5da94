// The ceremony page: load what is to be signed, show it in words, sign it with the security key
// on a click, post the result, show the outcome.
import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser';
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage } from '../../shared/errors';
import { CeremonyApiError, FINAL_ERRORS, loadCeremony, submitAssertion, submitRegistration } from './api';
import { activationOutcome, approvalOutcome, firstName, webauthnErrorText, type Tone } from './format';
import type { Ceremony, CeremonyRoute } from './model';
import { ActivationSummary, ApprovalSummary, EnrolmentSummary } from './Summaries';

export interface Result {
  /** the activation state, `registered`, `cancelled`, or `error` */
  state: string;
  tone: Tone;
  title: string;
  detail: string;
  /** whether touching the key again can help */
  retry: boolean;
}

const sentence = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

function serverError(e: unknown, title: string): Result {
  if (e instanceof CeremonyApiError)
    return {
      state: 'error',
      tone: 'bad',
      title,
      detail: sentence(e.message),
      retry: !FINAL_ERRORS.has(e.code) && e.status !== 0,
    };
  return { state: 'error', tone: 'bad', title, detail: sentence(errorMessage(e)), retry: true };
}

function pageTitle(c: Ceremony | null): string {
  if (!c) return 'Security key — PIM Agent';
  if (c.kind === 'enrolment') return 'Register a security key — PIM Agent';
  if (c.kind === 'activation') return `Activate ${c.request.role} — PIM Agent`;
  return `${c.statement.decision === 'approve' ? 'Approve' : 'Deny'} ${firstName(c.requester)}'s ${c.request.role} — PIM Agent`;
}

export function CeremonyApp({ route }: { route: CeremonyRoute | null }) {
  const [ceremony, setCeremony] = useState<Ceremony | null>(null);
  const [loading, setLoading] = useState(route !== null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(() =>
    route
      ? null
      : {
          state: 'error',
          tone: 'bad',
          title: 'This link is not a ceremony',
          detail: 'Open the link exactly as PIM Agent gave it.',
          retry: false,
        },
  );
  const resultRef = useRef<HTMLDivElement>(null);
  const supported = browserSupportsWebAuthn() && window.isSecureContext;

  useEffect(() => {
    if (!route) return;
    let live = true;
    loadCeremony(route).then(
      (c) => {
        if (!live) return;
        setCeremony(c);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setLoading(false);
        setResult({ ...serverError(e, 'This request cannot be signed'), retry: false });
      },
    );
    return () => {
      live = false;
    };
  }, [route]);

  useEffect(() => {
    document.title = pageTitle(ceremony);
  }, [ceremony]);

  useEffect(() => {
    if (result && result.state !== 'cancelled') resultRef.current?.focus();
  }, [result]);

  const sign = useCallback(async () => {
    if (!route || !ceremony || busy) return;
    setBusy(true);
    setResult(null);
    try {
      let signed;
      try {
        signed =
          ceremony.kind === 'enrolment'
            ? await startRegistration({ optionsJSON: ceremony.options })
            : await startAuthentication({ optionsJSON: ceremony.options });
      } catch (e) {
        const w = webauthnErrorText(e);
        setResult(
          w.cancelled
            ? {
                state: 'cancelled',
                tone: 'waiting',
                title: 'Cancelled — nothing was signed',
                detail: 'Try again when you are ready.',
                retry: true,
              }
            : { state: 'error', tone: 'bad', title: 'Nothing was signed', detail: w.message, retry: true },
        );
        return;
      }
      try {
        if (ceremony.kind === 'enrolment') {
          const r = await submitRegistration(route, signed as Parameters<typeof submitRegistration>[1]);
          setResult({
            state: 'registered',
            tone: 'ok',
            title: 'Security key registered',
            detail: `The key is registered for ${r.user}. Go back to PIM Agent — it finishes on its own. You can close this window.`,
            retry: false,
          });
        } else {
          const view = await submitAssertion(route, signed as Parameters<typeof submitAssertion>[1]);
          const text =
            ceremony.kind === 'activation'
              ? activationOutcome(view)
              : approvalOutcome(view, ceremony.statement.decision, ceremony.requester);
          setResult({ state: view.state, ...text, retry: false });
        }
      } catch (e) {
        setResult(serverError(e, 'The control plane refused the signature'));
      }
    } finally {
      setBusy(false);
    }
  }, [route, ceremony, busy]);

  const canSign = ceremony !== null && supported && (!result || result.retry);
  return (
    <main className="ceremony">
      <header className="masthead">
        <span className="brand">PIM Agent</span>
        <span className="site" title="Your security key signs only for this site">
          {location.host}
        </span>
      </header>

      {loading && (
        <p className="loading" role="status" aria-busy="true">
          Loading the request…
        </p>
      )}

      {ceremony?.kind === 'activation' && <ActivationSummary c={ceremony} />}
      {ceremony?.kind === 'approval' && <ApprovalSummary c={ceremony} />}
      {ceremony?.kind === 'enrolment' && <EnrolmentSummary c={ceremony} />}

      {ceremony && !supported && (
        <div
          className="result tone-bad"
          data-testid="ceremony-result"
          data-state="error"
          data-error="webauthn-unavailable"
          role="alert"
        >
          <h2>This browser cannot use a security key here</h2>
          <p>
            {window.isSecureContext
              ? 'WebAuthn is not available in this browser. Open this link in a current Chrome, Edge, Firefox or Safari.'
              : 'Security keys work only on https pages (or http://localhost). Open the link exactly as PIM Agent gave it.'}
          </p>
        </div>
      )}

      {canSign && (
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid="ceremony-sign"
            onClick={() => void sign()}
            disabled={busy}
            aria-describedby="sign-hint"
          >
            {busy
              ? 'Touch your security key now…'
              : result?.state === 'cancelled' || result?.retry
                ? 'Try again — touch your security key'
                : 'Touch your security key'}
          </button>
          <p id="sign-hint" className="hint">
            {busy
              ? 'Your browser is waiting for the key. Touch it when it blinks.'
              : 'Read the above first. Click, then touch the key when it blinks.'}
          </p>
        </div>
      )}

      {result && (
        <div
          ref={resultRef}
          tabIndex={-1}
          className={`result tone-${result.tone}`}
          data-testid="ceremony-result"
          data-state={result.state}
          role={result.tone === 'bad' ? 'alert' : 'status'}
        >
          <h2>{result.title}</h2>
          {result.detail && <p>{result.detail}</p>}
        </div>
      )}

      <footer className="footer">
        Your key signs for {location.host} only. If you did not ask for this, close this window: nothing happens without
        your touch.
      </footer>
    </main>
  );
}
