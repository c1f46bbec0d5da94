import { spawn } from 'node:child_process';
import { EXIT, UsageError, type Command } from '../command';
import { clean } from '../format';
import { roleEnv, shellOption } from '../role-env';
import { errorCode } from '../../../shared/errors';

export const exec: Command = {
  name: 'exec',
  summary: 'Run one command with ROLE’s environment',
  usage: `  pim exec ROLE -- COMMAND [ARG…] Run one command with ROLE's environment; exits with its code`,
  async run({ operands, options: o }, services) {
    const role = operands[0];
    if (!role || operands.length < 2) throw new UsageError('usage: pim exec ROLE -- COMMAND [ARG…]');
    shellOption(o.shell); // checked as for pim env, though the command gets no exports to print
    const vars = await roleEnv(role, services);
    if (!vars) return EXIT.ended;
    return runWith(operands.slice(1), vars);
  },
};

/** `pim exec`: the command inherits our terminal; its exit code (or 128+signal) is ours. */
function runWith(argv: string[], vars: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...process.env, ...vars } });
    child.on('error', (e) => {
      process.stderr.write(`pim: cannot run ${clean(argv[0]!)}: ${errorCode(e) ?? e.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)));
  });
}

const osSignals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
