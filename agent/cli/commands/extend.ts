import type { Command } from '../command';
import { requestRole } from '../request-role';

export const extend: Command = {
  name: 'extend',
  summary: 'More time on an active role',
  usage: `  pim extend ROLE [--duration 1h] [--reason TEXT] [--ticket ID] [--wait] [--no-open]
                                  More time on an active role: a new signed request chained to it`,
  run: (args, services) => requestRole('extend', args, services),
};
