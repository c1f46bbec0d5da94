// One role-name rule at every boundary (shared/role-name.ts): the API contract, the signed request,
// pim-agent:// links and the popover's URL fragment accept and refuse exactly the same names.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { parseDeepLink } from '../../electron/main/deep-links';
import { parseOpenRequest } from '../../renderer/open-request';
import { contract } from '../../shared/api';
import { ROLE_NAME_RE } from '../../shared/role-name';

const NAMES = [
  'readonly',
  'gpu-cluster-readonly',
  '0day',
  'a',
  'x'.repeat(63),
  'x'.repeat(64),
  'Admin',
  '-lead',
  'a_b',
  'a.b',
  'ünïcode',
  '',
  'a b',
];

test('the API, deep links and the popover fragment agree with the one role-name rule', () => {
  for (const name of NAMES) {
    const want = ROLE_NAME_RE.test(name);
    assert.equal(contract.deactivate.input.safeParse({ role: name }).success, want, `api: ${name}`);
    assert.equal(parseDeepLink(`pim-agent://activate?role=${encodeURIComponent(name)}`).ok, want, `deep link: ${name}`);
    assert.equal(
      parseOpenRequest(`#activate=${encodeURIComponent(name)}`)?.activate?.role === name,
      want,
      `fragment: ${name}`,
    );
  }
  assert.deepEqual(
    NAMES.filter((n) => ROLE_NAME_RE.test(n)),
    ['readonly', 'gpu-cluster-readonly', '0day', 'a', 'x'.repeat(63)],
  );
});
