import path from 'node:path';
import { exportLines, shellInit, SHELLS } from '../../credentials/shell';
import { EXIT, UsageError, type Command } from '../command';
import { isShell } from '../role-env';

export const shellInitCommand: Command = {
  name: 'shell-init',
  summary: 'Prompt segment with your active roles and minutes left',
  usage: `  pim shell-init bash|zsh|fish|sh Prompt segment with your active roles and minutes left:
                                  eval "$(pim shell-init bash)" in ~/.bashrc`,
  async run({ operands }, { io, home, withAgent }) {
    const shell = operands[0];
    if (!isShell(shell) || operands.length !== 1) throw new UsageError(`usage: pim shell-init ${SHELLS.join('|')}`);
    // connected to the embedded demo: terminals use the demo's own kubeconfig and AWS config
    const demo = await withAgent(async (agent) => agent.store.connection()?.demo === true);
    if (demo) {
      const { demoTargets } = await import('../../credentials/manager');
      io.out(exportLines(demoTargets(home), shell));
    }
    io.out(shellInit(shell, path.join(home, 'creds')));
    return EXIT.ok;
  },
};
