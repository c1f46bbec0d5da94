// "What you are about to sign", one block per ceremony kind. Every value shown here comes from the
// object whose hash the key signs (the request, the approval statement) or the enrolment binding.
import type { ReactNode } from 'react';
import type { ActivationRequest } from '../../shared/activation';
import {
  clockTime,
  deviceFingerprint,
  firstName,
  humanDuration,
  requestFingerprint,
  shortSshKey,
  sshFingerprint,
} from './format';
import type { ActivationCeremony, ApprovalCeremony, EnrolmentCeremony } from './model';

function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {rows.map(([k, v]) => (
        <div className="fact" key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

const none = (text: string) => <span className="muted">{text}</span>;

function SshKey({ value }: { value: string | null }) {
  if (!value) return none('none — no SSH certificate requested');
  const fp = sshFingerprint(value);
  return (
    <>
      <code className="key" title={value} data-testid="ssh-key">
        {shortSshKey(value)}
      </code>
      {fp && <span className="sub mono">{fp}</span>}
    </>
  );
}

function requestRows(r: ActivationRequest, sha: string, reasonLabel: string): [string, ReactNode][] {
  return [
    [reasonLabel, r.justification ? <q data-testid="justification">{r.justification}</q> : none('none given')],
    ['Ticket', r.ticket ? <span data-testid="ticket">{r.ticket}</span> : none('none')],
    ['SSH key', <SshKey value={r.sshPublicKey} />],
    ['Policy', <span data-testid="policy-version">v{r.policyVersion}</span>],
    [
      'Request fingerprint',
      <code className="mono" title={`SHA-256 of the request: ${sha}`} data-testid="request-fingerprint">
        {requestFingerprint(sha)}
      </code>,
    ],
  ];
}

function uvNote(uv: string | undefined): string {
  return uv === 'required' ? 'Your key will also ask for its PIN (or fingerprint).' : '';
}

export function ActivationSummary({ c }: { c: ActivationCeremony }) {
  const r = c.request;
  const verb = r.kind === 'extend' ? 'extend' : 'activate';
  const rows = requestRows(r, c.requestSha256, 'Reason');
  if (r.kind === 'extend' && r.extends) rows.push(['Extends', <code className="mono">{r.extends}</code>]);
  rows.push([
    'Sign before',
    <span data-testid="nonce-expires">This request expires at {clockTime(c.nonceExpiresAt)}</span>,
  ]);
  return (
    <section className="summary" data-testid="ceremony-summary" aria-labelledby="summary-title">
      <p className="eyebrow">{r.kind === 'extend' ? 'Extend a role' : 'Activate a role'}</p>
      <h1 id="summary-title">
        You are about to {verb} <strong data-testid="role">{r.role}</strong> {r.kind === 'extend' ? 'by' : 'for'}{' '}
        <strong className="nowrap" data-testid="duration">
          {humanDuration(r.duration)}
        </strong>{' '}
        as <strong data-testid="user">{r.user}</strong>
      </h1>
      <Facts rows={rows} />
      <p className={c.needsApproval ? 'next next-approval' : 'next'} data-testid="approval-note">
        {c.needsApproval
          ? 'After your touch, this request still needs approval before it becomes active. PIM Agent tells you when it is decided.'
          : 'It becomes active as soon as you touch your key; no one else needs to approve it.'}{' '}
        {uvNote(c.options.userVerification)}
      </p>
    </section>
  );
}

export function ApprovalSummary({ c }: { c: ApprovalCeremony }) {
  const s = c.statement;
  const r = c.request;
  const approve = s.decision === 'approve';
  const rows = requestRows(r, s.requestHash, 'Their reason');
  rows.unshift(['Requester', <span>{c.requester}</span>]);
  rows.push(['Requested at', <span>{clockTime(r.requestedAt)}</span>]);
  rows.push(['Your reason', s.reason ? <q data-testid="approver-reason">{s.reason}</q> : none('none given')]);
  return (
    <section className="summary" data-testid="ceremony-summary" aria-labelledby="summary-title">
      <p className="eyebrow">{approve ? 'Approve a request' : 'Deny a request'}</p>
      <h1 id="summary-title">
        {firstName(s.approver)}, you are about to{' '}
        <strong className={approve ? 'decision decision-approve' : 'decision decision-deny'} data-testid="decision">
          {approve ? 'APPROVE' : 'DENY'}
        </strong>{' '}
        {firstName(c.requester)}'s request to {r.kind === 'extend' ? 'extend' : 'activate'}{' '}
        <strong data-testid="role">{r.role}</strong> {r.kind === 'extend' ? 'by' : 'for'}{' '}
        <strong className="nowrap" data-testid="duration">
          {humanDuration(r.duration)}
        </strong>
      </h1>
      <Facts rows={rows} />
      <p className="next">
        {approve
          ? `Your signature counts as one approval; when enough approvers agree, ${firstName(c.requester)}'s access starts at once.`
          : `${firstName(c.requester)} will see your reason.`}{' '}
        {uvNote(c.options.userVerification)}
      </p>
    </section>
  );
}

export function EnrolmentSummary({ c }: { c: EnrolmentCeremony }) {
  return (
    <section className="summary" data-testid="ceremony-summary" aria-labelledby="summary-title">
      <p className="eyebrow">Register a security key</p>
      <h1 id="summary-title">
        Register a security key for <strong data-testid="user">{c.user}</strong> on this device
      </h1>
      <Facts
        rows={[
          [
            'Device key fingerprint',
            <>
              <code className="mono" title={c.device} data-testid="device-fingerprint">
                {deviceFingerprint(c.device)}
              </code>
              <span className="sub">It must match the one PIM Agent shows.</span>
            </>,
          ],
          ['Site', <span>{location.host}</span>],
        ]}
      />
      <p className="next">
        From now on, activating a role with this device will need this key. Your browser may ask you to set or enter the
        key's PIN.
      </p>
    </section>
  );
}
