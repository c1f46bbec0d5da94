import { EXIT, type Command } from '../command';
import { rolesOutput } from '../fast-commands';

export const roles: Command = {
  name: 'roles',
  summary: 'Roles you may activate, and why not the others',
  usage: `  pim roles [--all] [--json]      Roles you may activate, and why not the others (works offline)`,
  run: ({ options: o }, { io, withAgent }) =>
    withAgent(async (agent) => {
      io.out(rolesOutput(agent, o));
      return EXIT.ok;
    }),
};
