import { nearest } from '../../shared/policy/review';
import { AgentError, type Agent } from '../agent';
import { clean } from './format';

/** A role name this policy does not have: say so, with the nearest real one (a typo is the usual cause). */
export function requireRole(agent: Agent, role: string): void {
  if (!agent.store.policySummary() || agent.role(role)) return;
  const guess = nearest(
    role,
    agent.listAllRoles().map((r) => r.name),
  );
  throw new AgentError(
    'unknown-role',
    `no role named "${clean(role)}" in policy v${agent.store.policyVersion()}${guess ? `; did you mean "${clean(guess)}"?` : ''} (\`pim roles --all\` lists them)`,
  );
}
