import { waitMs } from '../args';
import { UsageError, type Command } from '../command';
import { waitAndReport } from '../wait-report';

export const wait: Command = {
  name: 'wait',
  summary: 'Pick a request up again and wait until it is decided',
  usage: `  pim wait ID [--timeout D] [--json]
                                  Pick a request up again (after Ctrl-C, or exit 4): wait until it
                                  is decided, then put its credentials in place; same exit codes`,
  async run({ operands, options: o }, { io, withActivation }) {
    const id = operands[0];
    if (!id || operands.length !== 1) throw new UsageError('usage: pim wait ID [--timeout 2h] [--json]');
    return withActivation(async (svc, agent) =>
      waitAndReport(svc, agent, id, {
        untilDecided: true,
        timeoutMs: o.timeout === undefined ? undefined : waitMs(o.timeout, 0),
        json: o.json ? io.json : null,
        out: io.out,
        prompt: io.prompt,
      }),
    );
  },
};
