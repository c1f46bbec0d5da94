import { UsageError, type Command } from '../command';

export const start: Command = {
  name: 'start',
  summary: 'What `npm start` runs: the demo control plane when nothing is configured, then the app',
  usage: `  pim start                       What \`npm start\` runs: the embedded demo control plane when
                                  nothing is configured, then the tray app or the web shell`,
  async run({ options: o }, { home, hooks }) {
    if (!hooks.start)
      throw new UsageError('"pim start" runs from the pim command (bin/pim.cjs), not from this entry point');
    return hooks.start(home, { open: !o['no-open'] });
  },
};
