// The policy's durations ("90m", "1h30m", "7d"): parsed and formatted in shared/duration.ts, with
// every other duration people read.
export { MAX_DURATION_SECONDS, formatDuration, parseDuration } from '../duration';
