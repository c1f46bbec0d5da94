// First run: paste the enrolment link, check the device fingerprint, register the security key on
// the control plane's page. The agent finishes in the background; getState().enrolled flips and
// the popover shows the roles.
import { useState, type FormEvent } from 'react';
import type { AgentState, ApiError, PimApi } from '../shared/api';
import { enrolmentLinkProblem, groupFingerprint } from './activation-format';
import { isElectronHost } from './client';
import { serverLabel } from './format';
import { openCeremony } from './open-ceremony';

function originOf(link: string): string {
  try {
    return new URL(link).origin;
  } catch {
    return link;
  }
}

export function EnrolPanel({
  client,
  state,
  onChanged,
  firstRun,
}: {
  client: PimApi;
  state: AgentState;
  onChanged: () => void;
  firstRun: boolean;
}) {
  const [link, setLink] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [touched, setTouched] = useState(false);
  const [restart, setRestart] = useState(false);
  // web shell: the agent asked for the code it showed on `pim ui`'s terminal before it switches
  // control planes (the person's confirmation; webshell/server.ts)
  const [confirm, setConfirm] = useState<{ link: string; message: string; needsCode: boolean } | null>(null);
  const [code, setCode] = useState('');
  const e = state.enrolment;
  const waiting = e?.state === 'waiting' && !restart;
  const complete = e?.state === 'complete' && !restart;
  const problem = enrolmentLinkProblem(link);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if ((problem && !confirm) || busy) return;
    setBusy(true);
    setError(null);
    const target = confirm?.link ?? link.trim();
    if (!confirm && isElectronHost()) {
      // the app window: the person confirms here which control plane the agent will trust (the web
      // shell asks for a code from its terminal instead, see below)
      setBusy(false);
      setConfirm({
        link: target,
        message: `PIM Agent will trust the control plane ${originOf(target)} for your roles. Continue only if it is your organisation's.`,
        needsCode: false,
      });
      return;
    }
    const input = confirm?.needsCode ? { link: target, confirmCode: code.trim() } : { link: target };
    const r = await client
      .enroll(input)
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    setBusy(false);
    if (!r.ok) {
      if (r.error.code === 'confirm-switch') {
        setConfirm({ link: target, message: r.error.message, needsCode: true });
        setCode('');
        return;
      }
      if (r.error.code !== 'confirm-code-wrong') setConfirm(null);
      setError(r.error);
      return;
    }
    setConfirm(null);
    setCode('');
    setRestart(false);
    setLink('');
    onChanged();
  };

  const open = (external: boolean) => {
    if (!e) return;
    void openCeremony(client, e.ceremonyUrl, e.server, { external }).then((err) => err && setError(err));
  };

  const stateName = complete ? 'complete' : waiting ? 'waiting' : 'form';
  return (
    <section
      className={`enrol${firstRun ? ' enrol--first-run' : ''}`}
      data-testid="enrol-screen"
      data-state={stateName}
      aria-labelledby="enrol-title"
    >
      {waiting && e ? (
        <>
          <h2 id="enrol-title" className="enrol__title">
            Register your security key
          </h2>
          <p>
            Enrolling <strong data-testid="enrol-user">{e.user}</strong> with{' '}
            <span title={e.server}>{serverLabel(e.server)}</span>.
          </p>
          {e.keystoreNotice && (
            <p className="enrol__notice" role="status" data-testid="enrol-keystore-notice">
              {e.keystoreNotice}
            </p>
          )}
          <div className="fingerprint">
            <span className="fingerprint__label">This device's fingerprint</span>
            <code className="fingerprint__value" data-testid="enrol-fingerprint">
              {groupFingerprint(e.deviceFingerprint)}
            </code>
            <span className="fingerprint__hint">
              The security key page shows the same one: check that they match before you touch the key.
            </span>
          </div>
          <div className="actions-row">
            <button
              type="button"
              className="button button--primary"
              data-testid="enrol-open-ceremony"
              onClick={() => open(false)}
            >
              Register your security key
            </button>
            {isElectronHost() && (
              <button
                type="button"
                className="link-button"
                data-testid="enrol-open-external"
                onClick={() => open(true)}
              >
                Open in system browser
              </button>
            )}
          </div>
          <p className="muted" role="status">
            Waiting for the key to be registered… PIM Agent continues on its own.
          </p>
          <button type="button" className="link-button muted" onClick={() => setRestart(true)}>
            Use another link
          </button>
        </>
      ) : complete ? (
        <p role="status" data-testid="enrol-complete">
          Enrolled as {e?.user}. Loading your roles…
        </p>
      ) : (
        <form onSubmit={(ev) => void submit(ev)} noValidate>
          <h2 id="enrol-title" className="enrol__title">
            {firstRun ? 'Welcome to PIM Agent' : 'Enrol this device'}
          </h2>
          <p className="muted">
            {firstRun
              ? 'To request admin roles from this computer, enrol it once: paste the enrolment link your admin sent you, then register your security key.'
              : 'This device is connected without a security key, so roles can be viewed but not activated. Paste an enrolment link to finish setting it up.'}
          </p>
          {e && (e.state === 'expired' || e.state === 'failed') && !error && (
            <p className="field-error" role="alert" data-testid="enrol-error">
              The last enrolment did not finish: {e.error ?? e.state}
            </p>
          )}
          <label className="field">
            <span className="field__label">Enrolment link</span>
            <input
              className="input"
              data-testid="enrol-link-input"
              type="url"
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              placeholder="https://pim.example.com/enrol#code=…"
              value={link}
              maxLength={2048}
              onChange={(ev) => {
                setLink(ev.target.value);
                setConfirm(null);
              }}
              aria-invalid={touched && problem !== null}
              aria-describedby="enrol-link-hint"
            />
            <span id="enrol-link-hint" className={`field__hint${touched && problem ? ' field__hint--bad' : ''}`}>
              {touched && problem
                ? problem
                : 'One use only; it expires. Ask your admin for a new one if it does not work.'}
            </span>
          </label>
          {confirm && !confirm.needsCode && (
            <p className="field__hint" data-testid="enrol-confirm-switch">
              {confirm.message}
            </p>
          )}
          {confirm?.needsCode && (
            <label className="field" data-testid="enrol-confirm">
              <span className="field__label">Confirmation code</span>
              <span className="field__hint">{confirm.message}</span>
              <input
                className="input"
                data-testid="enrol-confirm-input"
                autoComplete="one-time-code"
                spellCheck={false}
                maxLength={16}
                value={code}
                onChange={(ev) => setCode(ev.target.value)}
              />
            </label>
          )}
          {error && (
            <p className="field-error" role="alert" data-testid="enrol-error" data-code={error.code}>
              {error.message}
            </p>
          )}
          <div className="actions-row">
            <button
              type="submit"
              className="button button--primary"
              data-testid="enrol-submit"
              disabled={busy || (touched && problem !== null)}
              aria-busy={busy}
            >
              {busy ? 'Checking the link…' : confirm ? 'Confirm' : 'Continue'}
            </button>
            {restart && (
              <button type="button" className="link-button" onClick={() => setRestart(false)}>
                Back
              </button>
            )}
          </div>
        </form>
      )}
    </section>
  );
}
