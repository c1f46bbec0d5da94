// The command line, parsed once for every command: one set of options (a command ignores those it
// does not use, as it always has) and the duration flags' parsing.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../shared/policy/duration';
import { UsageError } from './command';
import { errorMessage } from '../../shared/errors';

const OPTIONS = {
  home: { type: 'string' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  user: { type: 'string' },
  root: { type: 'string' },
  duration: { type: 'string' },
  port: { type: 'string' },
  'no-open': { type: 'boolean' },
  reason: { type: 'string' },
  ticket: { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  role: { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' },
  shell: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export type CliOptions = ReturnType<typeof parseCli>['values'];

/** argv as parseArgs sees it; throws parseArgs' own error (an unknown option, a missing value). */
export function parseCli(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

/** `--duration 2h`: seconds, or a usage error naming the flag. */
export function durationOf(s: string): number {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new UsageError(`--duration: ${errorMessage(e)}`);
  }
}

/** `--timeout D` in milliseconds, `dflt` when not given. */
export function waitMs(flag: string | undefined, dflt: number): number {
  return flag === undefined ? dflt : durationOf(flag) * 1000;
}
