import { test } from 'vitest';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../shared/policy/duration';

test('parseDuration reads hours, minutes, days, seconds and combinations', () => {
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('90m'), 5400);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('7d'), 7 * 86400);
  assert.equal(parseDuration('45s'), 45);
  assert.equal(parseDuration('1d2h3m4s'), 86400 + 7200 + 180 + 4);
});

test('parseDuration accepts exactly 366 days and refuses one second more', () => {
  assert.equal(parseDuration('366d'), 366 * 86400);
  assert.throws(() => parseDuration('366d1s'), /maximum of 366d/);
  assert.throws(() => parseDuration('367d'), /maximum of 366d/);
  assert.throws(() => parseDuration('9999999h'), /maximum of 366d/);
});

test('parseDuration refuses zero', () => {
  assert.throws(() => parseDuration('0s'), /zero/);
  assert.throws(() => parseDuration('0h0m'), /zero/);
});

test('parseDuration refuses negatives, fractions, garbage and wrong unit order with a hint', () => {
  for (const bad of ['-1h', '1.5h', '2x', '', 'h', '2', ' 2h', '2h ', '2H', '1m1h', '1h1h', '2 h', 'PT2H', '1e3s']) {
    assert.throws(
      () => parseDuration(bad),
      (e: Error) => {
        assert.match(e.message, /is not a duration \(use 30m, 2h, 1d\)/, `message for ${JSON.stringify(bad)}`);
        return true;
      },
    );
  }
});

test('parseDuration refuses values that are not strings', () => {
  assert.throws(() => parseDuration(3600 as unknown as string), /not a duration/);
});

test('formatDuration writes the compact form', () => {
  assert.equal(formatDuration(5400), '1h30m');
  assert.equal(formatDuration(7200), '2h');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(7 * 86400), '7d');
  assert.equal(formatDuration(86400 + 1), '1d1s');
  assert.equal(formatDuration(0), '0s');
});

test('formatDuration and parseDuration round-trip', () => {
  for (const s of [1, 59, 60, 61, 3599, 3600, 3601, 5400, 86399, 86400, 90061, 366 * 86400]) {
    assert.equal(parseDuration(formatDuration(s)), s, `round trip of ${s}`);
  }
  for (const text of ['1h30m', '2h', '7d', '45s', '1d2h3m4s']) {
    assert.equal(formatDuration(parseDuration(text)), text);
  }
});

test('formatDuration refuses negative and fractional seconds', () => {
  assert.throws(() => formatDuration(-1), /non-negative/);
  assert.throws(() => formatDuration(1.5), /whole/);
  assert.throws(() => formatDuration(Number.NaN), /whole/);
});
