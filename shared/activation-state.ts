// The activation state machine (docs/architecture.md, Flows: Activation with WebAuthn), as one pure function both sides
// persist:
//
//   requested ──assertion──▶ pending-approval ──quorum──▶ approved ──start──▶ active
//       │                        │   │                                        │ │ │
//       │ (auto-approved roles)  │   └─deny──▶ denied                         │ │ └─revoke──▶ revoked
//       └──assertion-auto──▶ approved          └─24 h──▶ request-expired       │ └─deactivate──▶ deactivated
//   requested ──5 min, no assertion──▶ request-expired                         └─end of window──▶ expired
//   requested / pending-approval ──refused──▶ denied   (the policy in force when it would take
//                                                         effect no longer allows it: server/admission)
//
// Terminal states never change again; anything else is refused with a reason.

export const ACTIVATION_STATES = [
  'requested',
  'pending-approval',
  'approved',
  'denied',
  'request-expired',
  'active',
  'expired',
  'deactivated',
  'revoked',
] as const;
export type ActivationState = (typeof ACTIVATION_STATES)[number];

export type ActivationEvent =
  | { type: 'assertion-verified'; needsApproval: boolean }
  | { type: 'quorum-reached' }
  | { type: 'denied' }
  | { type: 'refused' }
  | { type: 'start' }
  | { type: 'request-timeout' }
  | { type: 'window-ended' }
  | { type: 'deactivate' }
  | { type: 'revoke' };

export const TERMINAL: ReadonlySet<ActivationState> = new Set([
  'denied',
  'request-expired',
  'expired',
  'deactivated',
  'revoked',
]);

export type Transition = { ok: true; state: ActivationState } | { ok: false; error: string };

export function transition(state: ActivationState, event: ActivationEvent): Transition {
  const to = (s: ActivationState): Transition => ({ ok: true, state: s });
  if (TERMINAL.has(state)) return { ok: false, error: `the activation is already ${state}` };
  switch (event.type) {
    case 'assertion-verified':
      return state === 'requested'
        ? to(event.needsApproval ? 'pending-approval' : 'approved')
        : refuse(state, event.type);
    case 'quorum-reached':
      return state === 'pending-approval' ? to('approved') : refuse(state, event.type);
    case 'denied':
      return state === 'pending-approval' ? to('denied') : refuse(state, event.type);
    case 'refused':
      return state === 'requested' || state === 'pending-approval' ? to('denied') : refuse(state, event.type);
    case 'start':
      return state === 'approved' ? to('active') : refuse(state, event.type);
    case 'request-timeout':
      return state === 'requested' || state === 'pending-approval' ? to('request-expired') : refuse(state, event.type);
    case 'window-ended':
      return state === 'active' ? to('expired') : refuse(state, event.type);
    case 'deactivate':
      // any live activation: a request withdrawn before it is granted, or a role given back early
      return to('deactivated');
    case 'revoke':
      return state === 'active' || state === 'approved' ? to('revoked') : refuse(state, event.type);
  }
}

function refuse(state: ActivationState, event: string): Transition {
  return { ok: false, error: `cannot ${event.replace(/-/g, ' ')} an activation that is ${state}` };
}
