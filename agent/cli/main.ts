// `pim`: the agent's command line. One-shot commands answer from agent.db (offline-capable);
// `pim agent` and `pim ui` keep running. Each command is a file in commands/ (its usage and its
// handler); this parses argv, answers help and version, runs the command and turns what it threw
// into an exit code (and, with --json, one object on stdout).
import fs from 'node:fs';
import path from 'node:path';
import { resolveHome } from '../home';
import { parseCli } from './args';
import { EXIT, UsageError, type CliIo, type EntryHooks } from './command';
import { findCommand } from './commands';
import { clean } from './format';
import { commandHelp, helpText } from './help';
import { cliServices } from './services';
import { errorMessage } from '../../shared/errors';

export type { EntryHooks } from './command';

/** Error codes that mean "the policy says no" (offline or on the control plane): exit 3. */
const REFUSALS: ReadonlySet<string> = new Set(['not-allowed']);

export async function main(argv: string[], hooks: EntryHooks = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(argv);
  } catch (e) {
    process.stderr.write(`pim: ${errorMessage(e)}\n(see pim --help)\n`);
    return EXIT.usage;
  }
  const { values: o, positionals: pos } = parsed;
  const [name, ...operands] = pos;
  if (o.version || name === 'version') {
    const { packageRoot } = await import('../package-root');
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`pim ${pkg.version} (Node ${process.versions.node})\n`);
    return EXIT.ok;
  }
  // `pim help COMMAND` and `pim COMMAND --help`: that command only; a name that is no command gets
  // the whole help, like `pim help` and `pim --help`
  const topic = name === 'help' ? operands[0] : o.help ? name : undefined;
  const text = topic ? commandHelp(topic) : null;
  if (text) {
    process.stdout.write(text);
    return EXIT.ok;
  }
  if (o.help || !name || name === 'help') {
    process.stdout.write(helpText());
    return o.help || name === 'help' ? EXIT.ok : EXIT.usage;
  }

  const home = resolveHome(o.home);
  let answered = false;
  const out = (s: string) => {
    answered = true;
    process.stdout.write(s);
  };
  const io: CliIo = {
    out,
    json: (v) => out(JSON.stringify(v, null, 2) + '\n'),
    // what to do next (open this page, touch the key) goes to stderr, so stdout stays the answer
    prompt: (s) => process.stderr.write(`${s}\n`),
    err: (s) => process.stderr.write(s),
  };
  try {
    const command = findCommand(name);
    if (!command) throw new UsageError(`unknown command "${clean(name)}" (see pim --help)`);
    return await command.run({ name, operands, options: o }, cliServices(home, io, hooks));
  } catch (e) {
    const code =
      e instanceof UsageError
        ? EXIT.usage
        : REFUSALS.has(String((e as { code?: unknown }).code))
          ? EXIT.denied
          : EXIT.error;
    // our errors (agent, refresh, control plane, keystore) carry messages meant for people and no secrets
    process.stderr.write(`pim: ${errorMessage(e)}\n`);
    // --json: scripts get one object on stdout whatever happened
    if (o.json && !answered)
      io.json({
        ok: false,
        exitCode: code,
        error: {
          code: e instanceof UsageError ? 'usage' : String((e as { code?: unknown }).code ?? 'error'),
          message: errorMessage(e),
        },
      });
    return code;
  }
}
