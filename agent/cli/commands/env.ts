import { exportLines } from '../../credentials/shell';
import { EXIT, UsageError, type Command } from '../command';
import { roleEnv, shellOption } from '../role-env';

export const env: Command = {
  name: 'env',
  summary: 'Print the exports that select ROLE’s credentials in this shell',
  usage: `  pim env ROLE [--shell bash|zsh|fish|sh]
                                  Print the exports that select ROLE's credentials in this shell
                                  (AWS_PROFILE, KUBECONFIG with the role's context): eval "$(pim env ROLE)"`,
  async run({ operands, options: o }, services) {
    const role = operands[0];
    if (!role || operands.length !== 1) throw new UsageError('usage: pim env ROLE [--shell bash|zsh|fish|sh]');
    const shell = shellOption(o.shell);
    const vars = await roleEnv(role, services);
    if (!vars) return EXIT.ended;
    services.io.out(exportLines(vars, shell));
    return EXIT.ok;
  },
};
