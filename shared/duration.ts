// Durations, said once. As the admin writes them ("90m", "1h30m", "7d") <-> whole seconds, the unit of the
// compiled policy. Units must appear in d-h-m-s order and at most once each, so every value has one
// spelling and formatDuration(parseDuration(s)) is canonical.

export const MAX_DURATION_SECONDS = 366 * 86400;

const UNITS: readonly [suffix: string, seconds: number][] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

// Up to 7 digits per part: anything larger is > 366d anyway, and it keeps the arithmetic exact.
const DURATION_RE = /^(?:(\d{1,7})d)?(?:(\d{1,7})h)?(?:(\d{1,7})m)?(?:(\d{1,7})s)?$/;

const HINT = '(use 30m, 2h, 1d)';

/** "2h" | "90m" | "1h30m" | "7d" | "45s" -> seconds. Throws on garbage, 0, and more than 366 days. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string') throw new Error(`${String(text)} is not a duration ${HINT}`);
  const m = DURATION_RE.exec(text);
  if (text === '' || m === null) throw new Error(`${JSON.stringify(text)} is not a duration ${HINT}`);
  let seconds = 0;
  for (let i = 0; i < UNITS.length; i++) {
    const part = m[i + 1];
    if (part !== undefined) seconds += Number(part) * UNITS[i]![1];
  }
  if (seconds === 0) throw new Error(`${JSON.stringify(text)} is zero; a duration must be positive ${HINT}`);
  if (seconds > MAX_DURATION_SECONDS) {
    throw new Error(`${JSON.stringify(text)} is longer than the maximum of 366d`);
  }
  return seconds;
}

/** seconds -> compact form ("1h30m", "7d", "45s"); the inverse of parseDuration. 0 -> "0s". */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new Error(`cannot format ${seconds} as a duration: expected a whole, non-negative number of seconds`);
  }
  if (seconds === 0) return '0s';
  let rest = seconds;
  let out = '';
  for (const [suffix, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${suffix}`;
      rest -= n * size;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Durations for people. Every formatter below rounds to whole seconds and reads anything not
// positive as zero; they differ only in spelling:
//   compact  "1h30m", "2h", "1m30s"            (the popover, the tray)
//   words    "1 h 30 min", "1 day 2 h", "45 s"  (the activate form, the ceremony page, the tray)
//   relative "just now", "3 min ago", "in 2 h"
//   clock    "05:03", "1:59:59"                 (countdowns)

/** How precise a duration is shown: every part, or to the minute once it reaches an hour (seconds
 *  only under an hour; zero then reads "0m" / "0 min"). */
export type DurationPrecision = 'seconds' | 'minutes';

interface Parts {
  d: number;
  h: number;
  m: number;
  s: number;
}

function split(seconds: number, largest: 'd' | 'h'): Parts | null {
  const total = Number.isFinite(seconds) ? Math.round(seconds) : 0;
  if (total <= 0) return null;
  const d = largest === 'd' ? Math.floor(total / 86400) : 0;
  const h = Math.floor((total - d * 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  return { d, h, m, s: total % 60 };
}

function join(p: Parts | null, precision: DurationPrecision, unit: (n: number, u: keyof Parts) => string, sep: string) {
  const zero = precision === 'seconds' ? unit(0, 's') : unit(0, 'm');
  if (!p) return zero;
  const keep = (u: keyof Parts) => p[u] > 0 && (u !== 's' || precision === 'seconds' || (!p.d && !p.h));
  return (['d', 'h', 'm', 's'] as const)
    .filter(keep)
    .map((u) => unit(p[u], u))
    .join(sep);
}

/** 5400 → "1h30m", 90 → "1m30s"; 'minutes' drops seconds from an hour on (3661 → "1h1m"). */
export function compactDuration(seconds: number, precision: DurationPrecision = 'seconds'): string {
  return join(split(seconds, 'd'), precision, (n, u) => `${n}${u}`, '');
}

const WORD: Record<keyof Parts, string> = { d: 'day', h: 'h', m: 'min', s: 's' };

/** 5400 → "1 h 30 min", 93600 → "1 day 2 h", 172800 → "2 days", 90 → "1 min 30 s"; 'minutes'
 *  drops seconds from an hour on. `largest: 'h'` counts hours past a day ("26 h"). */
export function wordsDuration(
  seconds: number,
  precision: DurationPrecision = 'seconds',
  largest: 'd' | 'h' = 'd',
): string {
  return join(split(seconds, largest), precision, (n, u) => `${n} ${u === 'd' && n !== 1 ? 'days' : WORD[u]}`, ' ');
}

/** "just now", "3 min ago", "2 h ago", "5 days ago"; future instants read "in 3 min". */
export function relativeTime(thenIso: string, nowIso: string): string {
  const then = Date.parse(thenIso);
  const now = Date.parse(nowIso);
  if (Number.isNaN(then) || Number.isNaN(now)) return 'at an unknown time';
  const diff = Math.round((now - then) / 1000);
  const abs = Math.abs(diff);
  if (abs < 45) return 'just now';
  let text: string;
  if (abs < 3600) text = `${Math.max(1, Math.round(abs / 60))} min`;
  else if (abs < 86400) text = `${Math.round(abs / 3600)} h`;
  else {
    const days = Math.round(abs / 86400);
    text = `${days} ${days === 1 ? 'day' : 'days'}`;
  }
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** Remaining time for a countdown: "59:59", "05:03" under an hour; "1:59:59" from an hour on. */
export function clockDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

/** "less than a minute left", "42 min left", "1 h 35 min left", "26 h left" (up to the minute). */
export function timeLeft(ms: number): string {
  if (!(ms >= 60_000)) return 'less than a minute left';
  return `${wordsDuration(Math.ceil(ms / 60_000) * 60, 'minutes', 'h')} left`;
}
