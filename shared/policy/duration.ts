// Durations as the admin writes them ("90m", "1h30m", "7d") <-> whole seconds, the unit of the
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
