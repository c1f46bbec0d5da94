import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { TimeWindow, Weekday } from '../../shared/policy/types';
import { describeNext, isInWindow, nextWindowOpening } from '../../shared/policy/windows';

const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
const at = (iso: string) => new Date(iso);
const win = (days: Weekday[], from: string, to: string, tz = 'Europe/Berlin'): TimeWindow[] => [{ days, from, to, tz }];
const next = (w: TimeWindow[], iso: string) => nextWindowOpening(w, at(iso))?.toISOString() ?? null;

const BUSINESS = win(WEEKDAYS, '08:00', '18:00');

test('a weekday window is open from `from` (inclusive) to `to` (exclusive), local time', () => {
  // Mon 2026-05-04, Berlin on CEST (+02:00): 08:00 local = 06:00Z.
  assert.equal(isInWindow(BUSINESS, at('2026-05-04T05:59:59Z')), false);
  assert.equal(isInWindow(BUSINESS, at('2026-05-04T06:00:00Z')), true);
  assert.equal(isInWindow(BUSINESS, at('2026-05-04T15:59:59Z')), true);
  assert.equal(isInWindow(BUSINESS, at('2026-05-04T16:00:00Z')), false);
});

test('a weekday window is closed at the weekend', () => {
  assert.equal(isInWindow(BUSINESS, at('2026-05-09T10:00:00Z')), false); // Saturday noon
  assert.equal(isInWindow(BUSINESS, at('2026-05-10T10:00:00Z')), false); // Sunday noon
});

test('the next opening after Friday evening is Monday morning', () => {
  // Fri 2026-05-08 19:00 Berlin.
  const opening = nextWindowOpening(BUSINESS, at('2026-05-08T17:00:00Z'))!;
  assert.equal(opening.toISOString(), '2026-05-11T06:00:00.000Z');
  assert.equal(describeNext(opening, 'Europe/Berlin'), 'Mon 08:00 Europe/Berlin');
});

test('while a window is open, the next opening is now', () => {
  assert.equal(next(BUSINESS, '2026-05-04T09:30:00Z'), '2026-05-04T09:30:00.000Z');
});

test('no windows means no restriction and no next opening', () => {
  assert.equal(isInWindow([], at('2026-05-09T10:00:00Z')), true);
  assert.equal(nextWindowOpening([], at('2026-05-09T10:00:00Z')), null);
});

test('with several windows the earliest opening wins', () => {
  const windows = [...win(['mon'], '10:00', '12:00'), ...win(['sun'], '20:00', '21:00', 'UTC')];
  // Sat 2026-05-09: Sunday 20:00 UTC comes before Monday 10:00 Berlin.
  assert.equal(next(windows, '2026-05-09T12:00:00Z'), '2026-05-10T20:00:00.000Z');
});

test('Berlin spring-forward: the Monday after opens one hour earlier in UTC', () => {
  // 2026-03-29 02:00 CET -> 03:00 CEST. Fri 2026-03-27 08:00 CET = 07:00Z; Mon 2026-03-30 08:00 CEST = 06:00Z.
  assert.equal(isInWindow(BUSINESS, at('2026-03-27T07:00:00Z')), true);
  assert.equal(isInWindow(BUSINESS, at('2026-03-27T06:59:59Z')), false);
  assert.equal(next(BUSINESS, '2026-03-27T18:00:00Z'), '2026-03-30T06:00:00.000Z');
});

test('Berlin spring-forward: a window starting inside the gap opens at the first valid instant after it', () => {
  // 02:30 does not exist on Sun 2026-03-29; the clock jumps from 02:00 CET (01:00Z) to 03:00 CEST.
  const gap = win(['sun'], '02:30', '04:00');
  assert.equal(next(gap, '2026-03-28T12:00:00Z'), '2026-03-29T01:00:00.000Z');
  assert.equal(describeNext(at('2026-03-29T01:00:00Z'), 'Europe/Berlin'), 'Sun 03:00 Europe/Berlin');
  assert.equal(isInWindow(gap, at('2026-03-29T00:59:59Z')), false);
  assert.equal(isInWindow(gap, at('2026-03-29T01:00:00Z')), true);
  assert.equal(isInWindow(gap, at('2026-03-29T01:59:59Z')), true); // 03:59:59 CEST
  assert.equal(isInWindow(gap, at('2026-03-29T02:00:00Z')), false); // 04:00 CEST
});

test('Berlin spring-forward: a window ending inside the gap closes at the jump', () => {
  const w = win(['sun'], '00:00', '02:30');
  assert.equal(isInWindow(w, at('2026-03-29T00:59:59Z')), true); // 01:59:59 CET
  assert.equal(isInWindow(w, at('2026-03-29T01:00:00Z')), false); // 03:00 CEST
});

test('Berlin fall-back: a window starting in the repeated hour opens at its first occurrence and stays open', () => {
  // Sun 2026-10-25: 03:00 CEST (01:00Z) -> 02:00 CET; 02:30 happens at 00:30Z and again at 01:30Z.
  const w = win(['sun'], '02:30', '05:00');
  assert.equal(next(w, '2026-10-24T12:00:00Z'), '2026-10-25T00:30:00.000Z');
  assert.equal(isInWindow(w, at('2026-10-25T00:29:59Z')), false);
  assert.equal(isInWindow(w, at('2026-10-25T00:30:00Z')), true); // 02:30 CEST
  assert.equal(isInWindow(w, at('2026-10-25T01:15:00Z')), true); // 02:15 CET: wall clock went back, window did not
  assert.equal(isInWindow(w, at('2026-10-25T03:59:59Z')), true); // 04:59:59 CET
  assert.equal(isInWindow(w, at('2026-10-25T04:00:00Z')), false); // 05:00 CET
});

test('Berlin fall-back: an overnight window across the change lasts one hour longer', () => {
  const night = win(['sat'], '22:00', '06:00');
  // Opens Sat 22:00 CEST (20:00Z), closes Sun 06:00 CET (05:00Z): nine hours, not eight.
  assert.equal(isInWindow(night, at('2026-10-24T19:59:59Z')), false);
  assert.equal(isInWindow(night, at('2026-10-24T20:00:00Z')), true);
  assert.equal(isInWindow(night, at('2026-10-25T04:59:59Z')), true);
  assert.equal(isInWindow(night, at('2026-10-25T05:00:00Z')), false);
});

test('America/New_York: business hours follow the March change, a week apart', () => {
  const ny = win(WEEKDAYS, '09:00', '17:00', 'America/New_York');
  // Mon 2026-03-02 09:00 EST = 14:00Z; DST starts Sun 2026-03-08; Mon 2026-03-09 09:00 EDT = 13:00Z.
  assert.equal(next(ny, '2026-02-28T12:00:00Z'), '2026-03-02T14:00:00.000Z');
  const opening = nextWindowOpening(ny, at('2026-03-06T23:00:00Z'))!;
  assert.equal(opening.toISOString(), '2026-03-09T13:00:00.000Z');
  assert.equal(describeNext(opening, 'America/New_York'), 'Mon 09:00 America/New_York');
});

test('America/New_York: the gap and the repeated hour follow the same rules', () => {
  // Sun 2026-03-08: 02:00 EST (07:00Z) -> 03:00 EDT; 02:15 does not exist.
  assert.equal(
    next(win(['sun'], '02:15', '04:00', 'America/New_York'), '2026-03-07T12:00:00Z'),
    '2026-03-08T07:00:00.000Z',
  );
  // Sun 2026-11-01: 02:00 EDT (06:00Z) -> 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
  const w = win(['sun'], '01:30', '03:00', 'America/New_York');
  assert.equal(next(w, '2026-10-31T12:00:00Z'), '2026-11-01T05:30:00.000Z');
  assert.equal(isInWindow(w, at('2026-11-01T06:15:00Z')), true); // 01:15 EST, after the first 01:30
  assert.equal(isInWindow(w, at('2026-11-01T07:59:59Z')), true); // 02:59:59 EST
  assert.equal(isInWindow(w, at('2026-11-01T08:00:00Z')), false); // 03:00 EST
});

test('a window over midnight belongs to the day it starts', () => {
  const fridayNight = win(['fri'], '22:00', '06:00');
  // Sat 2026-05-09 03:00 CEST: inside Friday's window.
  assert.equal(isInWindow(fridayNight, at('2026-05-09T01:00:00Z')), true);
  // Fri 2026-05-08 03:00 CEST: that would be Thursday's window, which is not listed.
  assert.equal(isInWindow(fridayNight, at('2026-05-08T01:00:00Z')), false);
  assert.equal(isInWindow(fridayNight, at('2026-05-08T20:00:00Z')), true); // Fri 22:00
  assert.equal(isInWindow(fridayNight, at('2026-05-09T04:00:00Z')), false); // Sat 06:00
  assert.equal(next(fridayNight, '2026-05-09T10:00:00Z'), '2026-05-15T20:00:00.000Z');
});

test('a window whose `to` equals its `from` lasts a full day', () => {
  const w = win(['mon'], '12:00', '12:00', 'UTC');
  assert.equal(isInWindow(w, at('2026-05-04T12:00:00Z')), true);
  assert.equal(isInWindow(w, at('2026-05-05T11:59:59Z')), true);
  assert.equal(isInWindow(w, at('2026-05-05T12:00:00Z')), false);
});

test('describeNext names the weekday, the local time and the zone', () => {
  assert.equal(describeNext(at('2026-05-11T06:00:00Z'), 'Europe/Berlin'), 'Mon 08:00 Europe/Berlin');
  assert.equal(describeNext(at('2026-05-11T06:00:00Z'), 'Asia/Tokyo'), 'Mon 15:00 Asia/Tokyo');
  assert.equal(describeNext(at('2026-05-10T23:30:00Z'), 'America/New_York'), 'Sun 19:30 America/New_York');
});

test('zone tables give exactly the answers Intl gives, across a DST change, without calling Intl', async () => {
  const { buildZoneTable, useZoneTables, isInWindow, nextOpening, describeNext } =
    await import('../../shared/policy/windows');
  const win = (tz: string): TimeWindow[] => [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sun'], from: '01:30', to: '03:30', tz },
  ];
  const from = Date.UTC(2026, 9, 28);
  const to = Date.UTC(2026, 10, 20);
  const samples: number[] = [];
  for (let t = from + 3 * 86400_000; t < to - 10 * 86400_000; t += 1_800_000) samples.push(t);
  const answers = (tz: string) =>
    samples.map((t) => {
      const n = nextOpening(win(tz), new Date(t));
      return [isInWindow(win(tz), new Date(t)), n?.at.getTime(), n ? describeNext(n.at, tz).replace(tz, 'ZONE') : null];
    });
  // reference through Intl, under an alias of the same zone (its own caches; Chicago falls back on Nov 1)
  const expected = answers('US/Central');

  const table = buildZoneTable('America/Chicago', from, to);
  assert.equal(table.changes.length, 2, 'one change: CDT → CST');
  useZoneTables([table]);
  const proto = Intl.DateTimeFormat.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back below; called with .call(this)
  const real = proto.formatToParts;
  let intlCalls = 0;
  proto.formatToParts = function (this: Intl.DateTimeFormat, d?: number | Date) {
    intlCalls++;
    return real.call(this, d);
  };
  try {
    assert.deepEqual(answers('America/Chicago'), expected);
    assert.equal(intlCalls, 0, 'every answer came from the table');
  } finally {
    proto.formatToParts = real;
  }
});
