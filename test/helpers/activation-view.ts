// One ActivationView for tests: a plain activation by alice, with every field set, that a test
// changes where its case needs to. `request` overrides only the request fields it names; the
// request's user and role follow the view's unless named.
import type { ActivationView } from '../../shared/activation';

export type ActivationViewChanges = Partial<Omit<ActivationView, 'request'>> & {
  request?: Partial<ActivationView['request']>;
};

export function activationView(changes: ActivationViewChanges = {}): ActivationView {
  const { request, ...view } = changes;
  const user = view.user ?? 'alice@acme.example';
  const role = view.role ?? 'readonly';
  const requestedAt = request?.requestedAt ?? view.createdAt ?? '2025-06-02T09:00:00.000Z';
  return {
    id: 'a1',
    user,
    role,
    state: 'active',
    request: {
      v: 1,
      kind: 'activate',
      user,
      device: 'd'.repeat(43),
      role,
      duration: 3600,
      justification: null,
      ticket: null,
      sshPublicKey: null,
      policyVersion: 1,
      requestedAt,
      extends: null,
      ...request,
    },
    requestSha256: '0'.repeat(64),
    createdAt: requestedAt,
    startsAt: null,
    expiresAt: null,
    endReason: null,
    approvals: [],
    approvalsNeeded: 0,
    ceremonyUrl: null,
    ...view,
  };
}
