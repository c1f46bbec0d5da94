// Public API of the policy layer (pure: runs in Node and in the browser).
export * from './types';
export { parseDuration, formatDuration, MAX_DURATION_SECONDS } from './duration';
export { kubeContextName, awsProfileName } from './names';
export { PolicySchema, NAME_RE, parseUntil, type PolicySource, type PolicyInput } from './schema';
export {
  parsePolicyYaml,
  formatPolicyErrors,
  formatPath,
  DEFAULT_MAX_POLICY_BYTES,
  type PolicyError,
  type ParsePolicyResult,
} from './parse-yaml';
export { compilePolicy, subjectFromMember, subjectForEmail, type CompiledPolicy } from './compile';
export {
  isInWindow,
  nextOpening,
  nextWindowOpening,
  describeNext,
  parseTimeOfDay,
  canonicalTimeZone,
  buildZoneTable,
  useZoneTables,
  type ZoneTable,
} from './windows';
export {
  decide,
  decideAll,
  indexRoles,
  relevantRoles,
  MAX_TICKET_LENGTH,
  type RoleIndex,
  type DecideAllOptions,
} from './engine';
