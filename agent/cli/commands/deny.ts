import type { Command } from '../command';
import { decide, DECIDE_USAGE } from '../decide';

export const deny: Command = {
  name: 'deny',
  summary: 'Deny a request, with a reason the requester sees; your key signs the decision',
  usage: DECIDE_USAGE,
  run: (args, services) => decide('deny', args, services),
};
