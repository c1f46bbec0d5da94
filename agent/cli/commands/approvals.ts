import { formatDuration } from '../../../shared/policy/duration';
import { EXIT, type Command } from '../command';
import { clean } from '../format';

export const approvals: Command = {
  name: 'approvals',
  summary: 'Requests waiting for your approval',
  usage: `  pim approvals [--json]          Requests waiting for your approval`,
  run: ({ options: o }, { io, withActivation }) =>
    withActivation(async (svc) => {
      const list = await svc.approvals();
      if (o.json) io.json(list);
      else if (list.length === 0) io.out('No requests are waiting for your approval.\n');
      else
        for (const a of list) {
          const r = a.request;
          io.out(
            `${a.id}  ${clean(a.user)} asks for ${clean(a.role)} for ${formatDuration(r.duration)}\n    reason: ${clean(r.justification ?? '-')}${r.ticket ? `   ticket: ${clean(r.ticket)}` : ''}\n    approve: pim approve ${a.id}    deny: pim deny ${a.id} --reason "…"\n`,
          );
        }
      return EXIT.ok;
    }),
};
