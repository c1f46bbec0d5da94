// `pim-server`: the reference control plane's command line. Each command is its own file under
// cli/commands/ (its usage and its handler; the table is cli/commands/index.ts); this parses the
// command's name, answers help, runs it and turns what it threw into a message and an exit code.
import { errorCode, errorMessage } from '../shared/errors';
import { findCommand } from './cli/commands';
import { commandHelp, helpText } from './cli/help';
import { RepoError } from './repo/repository';

export { parseListen } from './cli/commands/serve';

/** `-h`/`--help` among a command's arguments (before a `--`): show that command's help. */
function asksHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    // `pim-server help COMMAND`: that command only; anything else: the whole help
    process.stdout.write((cmd === 'help' ? commandHelp(rest[0]) : null) ?? helpText());
    return cmd ? 0 : 2;
  }
  const command = findCommand(cmd);
  if (!command) {
    process.stderr.write(`pim-server: unknown command "${cmd}"\n\n${helpText()}`);
    return 2;
  }
  if (asksHelp(rest)) {
    process.stdout.write(commandHelp(cmd)!);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof RepoError) {
      process.stderr.write(`pim-server: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join('')}`);
      return 1;
    }
    if (e instanceof Error && errorCode(e) === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`pim-server: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`pim-server: ${errorMessage(e)}\n`);
    return 1;
  }
}
