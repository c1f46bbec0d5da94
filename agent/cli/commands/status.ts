import { EXIT, type Command } from '../command';
import { statusOutput } from '../fast-commands';

export const status: Command = {
  name: 'status',
  summary: 'Server, user, policy version, expiry, online/offline',
  usage: `  pim status [--json]             Server, user, policy version, expiry, online/offline`,
  run: ({ options: o }, { io, home, withAgent }) =>
    withAgent(async (agent) => {
      io.out(statusOutput(agent, home, o));
      return EXIT.ok;
    }),
};
