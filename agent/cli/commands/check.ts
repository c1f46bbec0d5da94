import { durationOf } from '../args';
import { EXIT, UsageError, type Command } from '../command';
import { checkText } from '../format';
import { requireRole } from '../require-role';

export const check: Command = {
  name: 'check',
  summary: 'Could you activate ROLE now? Exit 0 yes, 3 no',
  usage: `  pim check ROLE [--duration 2h] [--json]
                                  Could you activate ROLE now? Exit 0 yes, 3 no`,
  async run({ operands, options: o }, { io, withAgent }) {
    const role = operands[0];
    if (!role || operands.length !== 1) throw new UsageError('usage: pim check ROLE [--duration 2h] [--json]');
    const duration = o.duration === undefined ? undefined : durationOf(o.duration);
    return withAgent(async (agent) => {
      requireRole(agent, role);
      const d = agent.check(role, duration);
      if (o.json) io.json(d);
      else io.out(checkText(d));
      return d.allowed ? EXIT.ok : EXIT.denied;
    });
  },
};
