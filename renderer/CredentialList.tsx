// The credentials an active role put into the user's world, names only, and how to use them.
import type { InjectionView } from '../shared/api';
import { credentialHint, credentialLines } from './credentials-format';

export function CredentialList({ role, injection }: { role: string; injection: InjectionView }) {
  const lines = credentialLines(injection.items);
  if (lines.length === 0) return null;
  const hint = credentialHint(injection.items);
  return (
    <div className="credentials" data-testid={`credentials-${role}`}>
      <p className="credentials__title">{lines.every((l) => l.problem) ? 'Not in place yet' : 'Ready to use'}</p>
      <ul className="credentials__list">
        {lines.map((l, i) => (
          <li
            key={`${l.kind}-${i}`}
            data-testid="credential-item"
            data-kind={l.kind}
            data-problem={l.problem ? 'true' : undefined}
          >
            {l.label} {l.name !== null ? <code className="mono-ish">{l.name}</code> : l.where}
            {l.problem && (
              <span className="credentials__problem" role="alert">
                {' '}
                — {l.problem}
              </span>
            )}
          </li>
        ))}
      </ul>
      {hint && (
        <p className="credentials__hint" data-testid={`credentials-hint-${role}`}>
          {hint}
        </p>
      )}
    </div>
  );
}
