import type { Command } from '../command';
import { decide, DECIDE_USAGE } from '../decide';

export const approve: Command = {
  name: 'approve',
  summary: 'Approve a request; your key signs the decision',
  usage: DECIDE_USAGE,
  run: (args, services) => decide('approve', args, services),
};
