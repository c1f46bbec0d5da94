// The contract's method names, with no dependency at all: the sandboxed Electron preload bundles
// this file alone (it cannot require zod). shared/api.ts checks at compile time that this list and
// the contract's keys are the same set.
export const METHOD_NAMES = [
  'getState',
  'refreshPolicy',
  'checkRole',
  'listAllRoles',
  'enroll',
  'activate',
  'extend',
  'auditView',
  'listActivations',
  'deactivate',
  'approvals',
  'decide',
  'openCeremony',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];
