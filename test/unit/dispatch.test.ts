// The agent's side of the UI contract: every call validated, every answer { ok, value } | { ok:false, error }.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { AgentStateSchema } from '../../shared/api';
import { createDispatch } from '../../agent/api/dispatch';
import { newAgent } from '../helpers/agent';

test('an unknown method is refused with a code, not an exception', async () => {
  const d = createDispatch(newAgent());
  assert.deepEqual(await d('deleteEverything', {}), {
    ok: false,
    error: { code: 'unknown-method', message: 'unknown method "deleteEverything"' },
  });
  const proto = await d('__proto__', {});
  assert.equal(proto.ok, false);
});

test('input that does not match the contract is refused with bad-input', async () => {
  const d = createDispatch(newAgent());
  for (const input of [{ role: 5 }, { role: '' }, { role: 'x', duration: -1 }, { role: 'x', extra: true }, 'text']) {
    const r = await d('checkRole', input);
    assert.equal(r.ok, false, JSON.stringify(input));
    if (!r.ok) assert.equal(r.error.code, 'bad-input');
  }
});

test('getState of an unconfigured agent matches the contract and says unconfigured', async () => {
  const d = createDispatch(newAgent());
  const r = await d('getState', {});
  assert.equal(r.ok, true);
  if (r.ok) {
    const s = AgentStateSchema.parse(r.value);
    assert.equal(s.connection, 'unconfigured');
    assert.deepEqual(s.roles, []);
  }
});

test('checkRole without a policy answers with a clear error code', async () => {
  const r = await createDispatch(newAgent())('checkRole', { role: 'ai-cluster-admin' });
  assert.deepEqual(r.ok ? null : r.error.code, 'no-policy');
});
