// The agent's side of enrolment, activation and approval: see activations.ts.
export * from './activations';
