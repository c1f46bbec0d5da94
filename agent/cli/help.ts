// `pim help` and `pim COMMAND --help`, from the command table: each command's usage lines, between
// what is said once for all of them.
import { COMMANDS, findCommand } from './commands';

const HEADER = `pim — PIM Agent command line (just-in-time privileged access)

Usage:
`;

const FOOTER = `Global options:
  --home DIR      state folder (default: $PIM_HOME, else the OS's per-user app data folder)
  --json          one JSON object on stdout, also when the command fails ({ ok: false, error })
  -h, --help      this help; \`pim COMMAND --help\` (or \`pim help COMMAND\`): that command only
  -V, --version   the version of pim

Exit codes: 0 done, 1 error, 2 usage, 3 refused by policy, 4 waiting (approval or key touch),
5 ended without becoming active (denied, refused by the policy once signed, or expired).
`;

/** Every command with what it does; commands that share their lines (approve, deny) show them once. */
export function helpText(): string {
  const blocks = [...new Set(COMMANDS.map((c) => c.usage))];
  return `${HEADER}${blocks.join('\n')}\n\n${FOOTER}`;
}

/** `pim COMMAND --help`: that command's lines, then the global options and exit codes; null for
 *  a name that is no command. */
export function commandHelp(name: string): string | null {
  const c = findCommand(name);
  return c ? `Usage:\n${c.usage}\n\n${FOOTER}` : null;
}
