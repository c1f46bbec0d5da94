// Activation windows ("mon–fri 08:00–18:00 Europe/Berlin") evaluated with IANA zones through
// Intl.DateTimeFormat only, so the same code runs in Node and in the browser.
//
// A window on local date D is the instant interval [open, close):
//   open  = local D `from`; close = local `to` on D, or on D+1 when `to` <= `from` (past midnight).
// Local wall-clock times are turned into instants with one rule, which settles DST:
//   - a time that occurs twice (fall-back) means its FIRST occurrence;
//   - a time that does not exist (spring-forward gap) means the first valid instant after it,
//     i.e. the transition itself (02:30 on a 02:00→03:00 day opens at 03:00).
// Comparing instants, not wall-clock numbers, keeps a window open through the repeated hour.

import type { TimeWindow, Weekday } from './types';

const DAY_MS = 86_400_000;
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEKDAY_LABELS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
/** how far nextWindowOpening looks ahead */
const SEARCH_DAYS = 8;

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

// --- formatter and offset caches (hot path: one formatter per zone, offsets memoised) ---------

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, Map<number, number>>();
const OFFSET_CACHE_LIMIT = 4096;

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

function localParts(tz: string, t: number): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of formatterFor(tz).formatToParts(t)) {
    switch (p.type) {
      case 'year':
        out.year = Number(p.value);
        break;
      case 'month':
        out.month = Number(p.value);
        break;
      case 'day':
        out.day = Number(p.value);
        break;
      case 'hour':
        out.hour = Number(p.value) % 24;
        break;
      case 'minute':
        out.minute = Number(p.value);
        break;
      case 'second':
        out.second = Number(p.value);
        break;
    }
  }
  return out;
}

// --- zone tables: Intl's answers, precomputed -------------------------------------------------
// ICU costs ~25 ms the first time a process formats a date in a time zone. The agent computes,
// while refreshing, each zone's UTC-offset changes over the policy's life; a one-shot `pim roles`
// then decides windows from that table without touching Intl. Outside a table's range Intl answers.

export interface ZoneTable {
  tz: string;
  /** the table answers for instants in [from, to) */
  from: number;
  to: number;
  /** [instant, offset] sorted by instant: the offset that holds from that instant on */
  changes: [number, number][];
}

const zoneTables = new Map<string, ZoneTable>();
const TABLE_STEP_MS = 3 * 3_600_000; // real zones never change offset twice within 3 hours

/** Offsets of `tz` over [from, to), by sampling every 3 h and bisecting each change to the second. */
export function buildZoneTable(tz: string, from: number, to: number): ZoneTable {
  const offset = (t: number) => intlOffset(tz, t);
  const start = Math.floor(from / 1000) * 1000;
  const changes: [number, number][] = [[start, offset(start)]];
  let prevT = start;
  let prevOff = changes[0]![1];
  for (let t = start + TABLE_STEP_MS; prevT < to; t += TABLE_STEP_MS) {
    const off = offset(t);
    if (off !== prevOff) {
      let lo = prevT;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (offset(mid) === prevOff) lo = mid;
        else hi = mid;
      }
      changes.push([hi, off]);
      prevOff = off;
    }
    prevT = t;
  }
  return { tz, from: start, to, changes };
}

/** Let offsetAt answer from these tables (replaces any earlier table for the same zone). */
export function useZoneTables(tables: readonly ZoneTable[]): void {
  for (const t of tables) zoneTables.set(t.tz, t);
}

function tableOffset(tz: string, t: number): number | undefined {
  const table = zoneTables.get(tz);
  if (table === undefined || t < table.from || t >= table.to) return undefined;
  const c = table.changes;
  let lo = 0;
  let hi = c.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (c[mid]![0] <= t) lo = mid;
    else hi = mid - 1;
  }
  return c[lo]![1];
}

function intlOffset(tz: string, t: number): number {
  const sec = Math.floor(t / 1000);
  const p = localParts(tz, sec * 1000);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - sec * 1000;
}

/** UTC offset of `tz` at instant `t`, in ms (local = t + offset). */
function offsetAt(tz: string, t: number): number {
  const fromTable = tableOffset(tz, t);
  if (fromTable !== undefined) return fromTable;
  const sec = Math.floor(t / 1000);
  let perZone = offsetCache.get(tz);
  if (perZone === undefined) {
    perZone = new Map();
    offsetCache.set(tz, perZone);
  }
  const hit = perZone.get(sec);
  if (hit !== undefined) return hit;
  const off = intlOffset(tz, sec * 1000);
  if (perZone.size >= OFFSET_CACHE_LIMIT) perZone.clear();
  perZone.set(sec, off);
  return off;
}

/** Local calendar date of `t` in `tz`, as a day number (days since 1970-01-01 on that calendar). */
function localDay(tz: string, t: number): number {
  return Math.floor((t + offsetAt(tz, t)) / DAY_MS);
}

function weekdayOf(dayNum: number): Weekday {
  return WEEKDAYS[(((dayNum + 4) % 7) + 7) % 7]!; // 1970-01-01 was a Thursday
}

/** The instant of local wall-clock `minutes` on local day `dayNum` in `tz` (DST rule above). */
function resolveLocal(tz: string, dayNum: number, minutes: number): number {
  const wall = dayNum * DAY_MS + minutes * 60_000;
  // Offsets a day either side: equal means no transition nearby and one candidate.
  const before = offsetAt(tz, wall - DAY_MS);
  const after = offsetAt(tz, wall + DAY_MS);
  if (before === after) return wall - before;
  const tBefore = wall - before;
  const tAfter = wall - after;
  const valid = [tBefore, tAfter].filter((t) => t + offsetAt(tz, t) === wall);
  if (valid.length > 0) return Math.min(...valid); // fall-back: first occurrence
  // Spring-forward gap: the wall time never shows; open at the transition (first valid instant).
  let lo = Math.min(tBefore, tAfter);
  let hi = Math.max(tBefore, tAfter);
  const loOffset = offsetAt(tz, lo);
  if (offsetAt(tz, hi) === loOffset) return hi; // no transition found (should not happen)
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(tz, mid) === loOffset) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** "HH:MM" -> minutes after midnight; NaN when malformed (a NaN window never matches: fail closed). */
export function parseTimeOfDay(hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m === null ? NaN : Number(m[1]) * 60 + Number(m[2]);
}

/** The IANA zone as Intl spells it, or null when Intl does not know it. */
export function canonicalTimeZone(tz: string): string | null {
  // Only names (Area/City, UTC); Intl would also take offsets like "+01:00", which have no DST rules.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/.test(tz)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** [open, close) of `w`'s instance starting on local day `day`, or null if `w` has none that day. */
function instanceOn(w: TimeWindow, day: number, from: number, to: number): [number, number] | null {
  if (!w.days.includes(weekdayOf(day))) return null;
  const open = resolveLocal(w.tz, day, from);
  const close = resolveLocal(w.tz, to <= from ? day + 1 : day, to);
  return open < close ? [open, close] : null;
}

/** Whether `now` lies inside any of `windows`. An empty list means "no restriction" → true. */
export function isInWindow(windows: readonly TimeWindow[], now: Date): boolean {
  if (windows.length === 0) return true;
  const t = now.getTime();
  for (const w of windows) {
    const from = parseTimeOfDay(w.from);
    const to = parseTimeOfDay(w.to);
    if (Number.isNaN(from) || Number.isNaN(to)) continue;
    const today = localDay(w.tz, t);
    // Today's instance, or yesterday's if it runs past midnight.
    for (const day of to <= from ? [today - 1, today] : [today]) {
      const iv = instanceOn(w, day, from, to);
      if (iv !== null && iv[0] <= t && t < iv[1]) return true;
    }
  }
  return false;
}

/** The earliest instant at or after `now` at which a window is open (`now` itself when inside one),
 *  with the window that opens then; null when none opens within 8 days. */
export function nextOpening(windows: readonly TimeWindow[], now: Date): { at: Date; window: TimeWindow } | null {
  const t = now.getTime();
  const horizon = t + SEARCH_DAYS * DAY_MS;
  let best: { at: number; window: TimeWindow } | null = null;
  for (const w of windows) {
    const from = parseTimeOfDay(w.from);
    const to = parseTimeOfDay(w.to);
    if (Number.isNaN(from) || Number.isNaN(to)) continue;
    const today = localDay(w.tz, t);
    for (let day = today - 1; day <= today + SEARCH_DAYS; day++) {
      const iv = instanceOn(w, day, from, to);
      if (iv === null || iv[1] <= t) continue;
      if (iv[0] <= t) return { at: new Date(t), window: w };
      if (iv[0] <= horizon && (best === null || iv[0] < best.at)) best = { at: iv[0], window: w };
      break; // later days of this window open later still
    }
  }
  return best === null ? null : { at: new Date(best.at), window: best.window };
}

/** nextOpening's instant alone. */
export function nextWindowOpening(windows: readonly TimeWindow[], now: Date): Date | null {
  return nextOpening(windows, now)?.at ?? null;
}

/** "Mon 08:00 Europe/Berlin": `date` as wall-clock time in `tz`, for messages. */
export function describeNext(date: Date, tz: string): string {
  const local = new Date(date.getTime() + offsetAt(tz, date.getTime()));
  const day = Math.floor(local.getTime() / DAY_MS);
  const hh = String(local.getUTCHours()).padStart(2, '0');
  const mm = String(local.getUTCMinutes()).padStart(2, '0');
  return `${WEEKDAY_LABELS[(((day + 4) % 7) + 7) % 7]} ${hh}:${mm} ${tz}`;
}
