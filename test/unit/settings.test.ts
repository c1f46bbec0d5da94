// PIM_* settings (shared/settings.ts): one table, one reading, the same answers the scattered
// readings gave before.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { describeSettings, numberSetting } from '../../shared/settings';

test('an unset or empty setting is its default', () => {
  assert.equal(numberSetting({}, 'PIM_HTTP_TIMEOUT_MS'), 15_000);
  assert.equal(numberSetting({ PIM_AUDIT_SYNC_MS: ' ' }, 'PIM_AUDIT_SYNC_MS'), 60_000);
  assert.equal(numberSetting({}, 'PIM_REFRESH_INTERVAL_MS'), null, 'the agent loop keeps its own default');
});

test('a value in range is taken as given', () => {
  assert.equal(numberSetting({ PIM_ACTIVATION_POLL_MS: '400' }, 'PIM_ACTIVATION_POLL_MS'), 400);
  assert.equal(numberSetting({ PIM_TOMBSTONE_SECONDS: '0' }, 'PIM_TOMBSTONE_SECONDS'), 0);
  assert.equal(numberSetting({ PIM_REFRESH_INTERVAL_MS: '5000' }, 'PIM_REFRESH_INTERVAL_MS'), 5000);
});

test('not a number, below the minimum, or fractional where whole numbers are asked: the default', () => {
  assert.equal(numberSetting({ PIM_HTTP_TIMEOUT_MS: 'soon' }, 'PIM_HTTP_TIMEOUT_MS'), 15_000);
  assert.equal(numberSetting({ PIM_HTTP_TIMEOUT_MS: '0' }, 'PIM_HTTP_TIMEOUT_MS'), 15_000);
  assert.equal(numberSetting({ PIM_HTTP_TIMEOUT_MS: '1.5' }, 'PIM_HTTP_TIMEOUT_MS'), 15_000);
  assert.equal(numberSetting({ PIM_ACTIVATION_POLL_MS: '50' }, 'PIM_ACTIVATION_POLL_MS'), 3000);
  assert.equal(numberSetting({ PIM_REFRESH_INTERVAL_MS: '10' }, 'PIM_REFRESH_INTERVAL_MS'), null);
  assert.equal(numberSetting({ PIM_KUBE_TOKEN_TTL: '-5' }, 'PIM_KUBE_TOKEN_TTL'), 900);
});

test('above the maximum: cut to it where the setting is a ceiling, else the default', () => {
  assert.equal(numberSetting({ PIM_REVOCATION_POLL_MS: '90000' }, 'PIM_REVOCATION_POLL_MS'), 30_000);
  assert.equal(numberSetting({ PIM_KUBE_TOKEN_TTL: '3600' }, 'PIM_KUBE_TOKEN_TTL'), 900);
  assert.equal(numberSetting({ PIM_LONG_POLL_S: '45' }, 'PIM_LONG_POLL_S'), 25);
  assert.equal(numberSetting({ PIM_LONG_POLL_S: '30' }, 'PIM_LONG_POLL_S'), 30);
});

test('every setting says what it tunes', () => {
  const all = describeSettings();
  assert.ok(all.length >= 10);
  for (const s of all) {
    assert.match(s.name, /^PIM_[A-Z_]+$/);
    assert.ok(s.about.length > 10, s.name);
  }
});
