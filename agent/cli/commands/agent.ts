import type { Command } from '../command';

export const agent: Command = {
  name: 'agent',
  summary: 'Run the agent headless (periodic refresh with backoff)',
  usage: `  pim agent                       Run the agent headless (periodic refresh with backoff). It has no
                                  screen-lock signal: roles with onLock: deactivate end on lock only
                                  in the tray app`,
  async run(_args, { home }) {
    const { runHeadless } = await import('../long-running');
    return runHeadless(home);
  },
};
