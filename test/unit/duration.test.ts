// Every spelling of a duration people read, from the one module that makes them (shared/duration.ts).
import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  clockDuration,
  compactDuration,
  formatDuration,
  parseDuration,
  relativeTime,
  timeLeft,
  wordsDuration,
} from '../../shared/duration';

test('the policy spelling: parse and format are inverses, "1h30m", "7d", "45s", "0s"', () => {
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(formatDuration(5400), '1h30m');
  assert.equal(formatDuration(7 * 86400), '7d');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(0), '0s');
  assert.throws(() => parseDuration('2x'), /is not a duration/);
});

test('compact, to the second (the popover): "1h30m", "2h", "1m30s", "1h1m1s", zero and less read "0s"', () => {
  assert.equal(compactDuration(5400), '1h30m');
  assert.equal(compactDuration(7200), '2h');
  assert.equal(compactDuration(90), '1m30s');
  assert.equal(compactDuration(3661), '1h1m1s');
  assert.equal(compactDuration(90061), '1d1h1m1s');
  assert.equal(compactDuration(89.6), '1m30s');
  for (const zero of [0, -5, NaN, Infinity]) assert.equal(compactDuration(zero), '0s');
});

test('compact, to the minute (the tray): seconds only under an hour, zero reads "0m"', () => {
  assert.equal(compactDuration(7200, 'minutes'), '2h');
  assert.equal(compactDuration(5400, 'minutes'), '1h30m');
  assert.equal(compactDuration(2700, 'minutes'), '45m');
  assert.equal(compactDuration(90, 'minutes'), '1m30s');
  assert.equal(compactDuration(3661, 'minutes'), '1h1m');
  assert.equal(compactDuration(86400 + 30, 'minutes'), '1d');
  assert.equal(compactDuration(0, 'minutes'), '0m');
});

test('in words, to the second (the ceremony page): "1 h 30 min", "1 min 30 s", "1 day 2 h", "0 s"', () => {
  assert.equal(wordsDuration(5400), '1 h 30 min');
  assert.equal(wordsDuration(3600), '1 h');
  assert.equal(wordsDuration(90), '1 min 30 s');
  assert.equal(wordsDuration(93600), '1 day 2 h');
  assert.equal(wordsDuration(3601), '1 h 1 s');
  assert.equal(wordsDuration(0), '0 s');
});

test('in words, to the minute (the activate form): "15 min", "1 h 30 min", "1 day", "2 days", "0 min"', () => {
  assert.equal(wordsDuration(900, 'minutes'), '15 min');
  assert.equal(wordsDuration(5400, 'minutes'), '1 h 30 min');
  assert.equal(wordsDuration(86400, 'minutes'), '1 day');
  assert.equal(wordsDuration(172800, 'minutes'), '2 days');
  assert.equal(wordsDuration(45, 'minutes'), '45 s');
  assert.equal(wordsDuration(3601, 'minutes'), '1 h');
  assert.equal(wordsDuration(-1, 'minutes'), '0 min');
});

test('in words up to hours: a day and more still counts hours ("26 h")', () => {
  assert.equal(wordsDuration(26 * 3600, 'minutes', 'h'), '26 h');
  assert.equal(wordsDuration(26 * 3600 + 300, 'minutes', 'h'), '26 h 5 min');
});

test('time left (the tray): rounded up to the minute, "less than a minute left" under one', () => {
  assert.equal(timeLeft(30_000), 'less than a minute left');
  assert.equal(timeLeft(0), 'less than a minute left');
  assert.equal(timeLeft(-5_000), 'less than a minute left');
  assert.equal(timeLeft(60_000), '1 min left');
  assert.equal(timeLeft(61_000), '2 min left');
  assert.equal(timeLeft(42 * 60_000), '42 min left');
  assert.equal(timeLeft(60 * 60_000), '1 h left');
  assert.equal(timeLeft(95 * 60_000 - 1), '1 h 35 min left');
  assert.equal(timeLeft(26 * 3600_000), '26 h left');
});

test('relative to now: "just now", "3 min ago", "2 h ago", "1 day ago", "5 days ago", "in 3 min"', () => {
  const now = '2026-01-10T12:00:00Z';
  const at = (s: number) => new Date(Date.parse(now) - s * 1000).toISOString();
  assert.equal(relativeTime(at(30), now), 'just now');
  assert.equal(relativeTime(at(50), now), '1 min ago');
  assert.equal(relativeTime(at(180), now), '3 min ago');
  assert.equal(relativeTime(at(7200), now), '2 h ago');
  assert.equal(relativeTime(at(86400), now), '1 day ago');
  assert.equal(relativeTime(at(5 * 86400), now), '5 days ago');
  assert.equal(relativeTime(at(-180), now), 'in 3 min');
  assert.equal(relativeTime('garbage', now), 'at an unknown time');
});

test('a countdown clock: "59:59", "05:03" under an hour, "1:59:59" from an hour on, never negative', () => {
  assert.equal(clockDuration(3599_000), '59:59');
  assert.equal(clockDuration(303_000), '05:03');
  assert.equal(clockDuration(302_001), '05:03');
  assert.equal(clockDuration(7199_000), '1:59:59');
  assert.equal(clockDuration(-1), '00:00');
});
