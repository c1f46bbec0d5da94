// `pim-server --help` and `pim-server COMMAND --help`, from the command table: each command's
// usage lines, between what is said once for all of them.
import { COMMANDS, findCommand } from './commands';

const HEADER = `pim-server — reference control plane for PIM Agent

Usage:
`;

const FOOTER = `Options:
  -h, --help     this help
`;

/** Every command with what it does. */
export function helpText(): string {
  return `${HEADER}${COMMANDS.map((c) => c.usage).join('\n')}\n\n${FOOTER}`;
}

/** `pim-server COMMAND --help`: that command's lines, then the options; null for a name that is no
 *  command. */
export function commandHelp(name: string | undefined): string | null {
  const c = findCommand(name);
  return c ? `Usage:\n${c.usage}\n\n${FOOTER}` : null;
}
