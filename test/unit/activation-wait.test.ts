import assert from 'node:assert/strict';
import { test } from 'vitest';
import { ControlPlaneError } from '../../agent/activation/cp-client';
import { backoffMs, isTransient, longPollSeconds } from '../../agent/activation/wait';

test('retries back off 1 s, 2 s, 4 s … to at most 60 s, with ±20 % jitter', () => {
  const mid = () => 0.5;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 40].map((n) => backoffMs(n, mid)),
    [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000],
  );
  assert.equal(
    backoffMs(0, () => 0),
    800,
  );
  assert.equal(
    backoffMs(10, () => 0.999999),
    72000,
  );
});

test('only "no answer" and gateway errors are waited out; an answer such as not-found ends the wait', () => {
  assert.equal(isTransient(new ControlPlaneError('unreachable', 'x', 0)), true);
  assert.equal(isTransient(new ControlPlaneError('http-error', 'x', 503)), true);
  assert.equal(isTransient(new ControlPlaneError('http-error', 'x', 502)), true);
  assert.equal(isTransient(new ControlPlaneError('not-found', 'x', 404)), false);
  assert.equal(isTransient(new ControlPlaneError('bad-signature', 'x', 401)), false);
  assert.equal(isTransient(new Error('boom')), false);
});

test('the long poll asks for 25 s unless tuned, within the server cap of 30 s', () => {
  assert.equal(longPollSeconds({}), 25);
  assert.equal(longPollSeconds({ PIM_LONG_POLL_S: '2' }), 2);
  assert.equal(longPollSeconds({ PIM_LONG_POLL_S: '99' }), 25);
  assert.equal(longPollSeconds({ PIM_LONG_POLL_S: 'x' }), 25);
});
