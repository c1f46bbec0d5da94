import type { AgentState } from '../shared/api';
import { policyLine } from './format';

export function PolicyStatus({ state }: { state: Pick<AgentState, 'policy' | 'now'> }) {
  const line = policyLine(state);
  if (line.kind === 'none') {
    return <p className="policy-line policy-line--none">{line.text}</p>;
  }
  return (
    <p className="policy-line">
      <span data-testid="policy-version">{line.version}</span>
      <span aria-hidden="true"> · </span>
      <span>{line.verified}</span>
      <span aria-hidden="true"> · </span>
      <span className={line.expired ? 'policy-line__expired' : undefined}>{line.validity}</span>
    </p>
  );
}
