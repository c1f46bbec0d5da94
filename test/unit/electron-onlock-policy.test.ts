// `activation.onLock: deactivate` in the policy: compiled only when set (existing policies keep
// their bytes and hashes), refused when misspelt, accepted by the agent's verifier schema.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { canonicalJson } from '../../shared/canonical';
import { compilePolicy } from '../../shared/policy/compile';
import { CompiledRoleSchema } from '../../shared/policy/compiled-schema';
import { formatPolicyErrors, parsePolicyYaml } from '../../shared/policy/parse-yaml';
import { EXAMPLE_POLICY } from '../helpers/repo';

const WITH = `
roles:
  - name: prod-admin
    eligible: { groups: [ops] }
    activation: { maxDuration: 1h, onLock: deactivate }
  - name: readonly
    eligible: { groups: [ops] }
    activation: { maxDuration: 8h }
`;

function compile(text: string) {
  const r = parsePolicyYaml(text);
  assert.ok(r.ok, r.ok ? '' : formatPolicyErrors(r.errors));
  return compilePolicy(r.policy);
}

test('onLock: deactivate is compiled for the role that sets it, and only there', () => {
  const { roles } = compile(WITH);
  const [prod, ro] = roles.roles;
  assert.equal(prod!.activation.onLock, 'deactivate');
  assert.equal('onLock' in ro!.activation, false);
  assert.equal(CompiledRoleSchema.parse(prod).activation.onLock, 'deactivate');
});

test('a policy without onLock compiles to the same bytes as before the field existed', () => {
  const { roles } = compile(WITH.replace(', onLock: deactivate', ''));
  assert.doesNotMatch(canonicalJson(roles), /onLock/);
  assert.doesNotMatch(canonicalJson(compile(EXAMPLE_POLICY).roles), /onLock/);
});

test('anything but deactivate is refused with the fix', () => {
  const r = parsePolicyYaml(WITH.replace('onLock: deactivate', 'onLock: logout'));
  assert.equal(r.ok, false);
  assert.match(formatPolicyErrors(!r.ok ? r.errors : []), /onLock.*"logout" is not deactivate/);
});
