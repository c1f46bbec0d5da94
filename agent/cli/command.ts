// What every `pim` command is: its name, its help, and a handler that gets the parsed arguments and
// the few services it uses. The table of them is commands/index.ts; main.ts only dispatches.
import type { ActivationService } from '../activation/service';
import type { Agent } from '../agent';
import type { CliOptions } from './args';
import { PimError } from '../../shared/errors';

export const EXIT = { ok: 0, error: 1, usage: 2, denied: 3, pending: 4, ended: 5 } as const;

/** Wrong arguments: exit 2, the message says what the command expects. */
export class UsageError extends PimError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}

export interface CliArgs {
  /** the command as typed (an alias such as `enrol` included) */
  name: string;
  /** the positionals after the command: `pim audit list` has ['list'] */
  operands: string[];
  options: CliOptions;
}

/** Where a command writes. stdout is the answer; what to do next (open a page, touch the key) and
 *  progress go to stderr, so `--json` output stays one object. */
export interface CliIo {
  out: (s: string) => void;
  /** one JSON value on stdout (--json) */
  json: (v: unknown) => void;
  /** a line on stderr for the person at the terminal */
  prompt: (s: string) => void;
  /** raw stderr, for warnings and errors a command reports itself */
  err: (s: string) => void;
}

/** What only an entry point can provide: `pim start` embeds the demo control plane (app/start.ts),
 * which the agent must not import itself (the agent never imports server/). */
export interface EntryHooks {
  start?: (home: string, opts: { open: boolean }) => Promise<number>;
}

export interface CliServices {
  /** the state folder (--home, $PIM_HOME or the OS default) */
  home: string;
  io: CliIo;
  /** agent.db opened for the command's duration (one-shot commands only: `pim agent` and `pim ui`
   *  open their own) */
  withAgent: <T>(fn: (agent: Agent) => Promise<T>) => Promise<T>;
  withActivation: <T>(fn: (svc: ActivationService, agent: Agent) => Promise<T>) => Promise<T>;
  /** opens a ceremony page in the browser, without waiting for it */
  openUrl: (url: string) => void;
  hooks: EntryHooks;
}

export interface Command {
  name: string;
  /** other spellings that run it (`enrol`) */
  aliases?: readonly string[];
  /** one line: what it is for */
  summary: string;
  /** its lines in `pim help`, exactly as printed there and by `pim NAME --help` */
  usage: string;
  run: (args: CliArgs, services: CliServices) => Promise<number>;
}
