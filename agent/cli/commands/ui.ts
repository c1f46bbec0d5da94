import { UsageError, type Command } from '../command';

export const ui: Command = {
  name: 'ui',
  summary: 'Serve the UI on 127.0.0.1 and open it in the browser',
  usage: `  pim ui [--no-open] [--port N]   Serve the UI on 127.0.0.1 and open it in the browser`,
  async run({ options: o }, { home }) {
    const { runUi } = await import('../long-running');
    const port = o.port !== undefined ? Number(o.port) : undefined;
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
      throw new UsageError('--port must be 0..65535');
    return runUi(home, { open: !o['no-open'], port });
  },
};
