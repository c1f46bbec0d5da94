import type { Command } from '../command';
import { requestRole } from '../request-role';

export const activate: Command = {
  name: 'activate',
  summary: 'Ask for ROLE; touch your key on the page it opens',
  usage: `  pim activate ROLE [--duration 1h] [--reason TEXT] [--ticket ID] [--wait] [--timeout D] [--no-open] [--json]
                                  Ask for ROLE; touch your key on the page it opens. --wait waits
                                  for the approval too, as long as it takes (progress on stderr;
                                  retries if the control plane is away). Ctrl-C stops waiting and
                                  leaves the request pending (exit 4, also when the control plane
                                  cannot be reached). Exit 0 active; 3 refused by policy before
                                  anything was signed; 4 still waiting; 5 ended without becoming
                                  active: denied by an approver, refused by the policy in force
                                  when it was signed or approved ("not granted when …"), or
                                  expired; 1 error. An active role is not requested again (use
                                  pim extend)`,
  run: (args, services) => requestRole('activate', args, services),
};
