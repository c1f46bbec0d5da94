import { reportLines } from '../../credentials/scheduler';
import { EXIT, UsageError, type Command } from '../command';
import { clean } from '../format';
import { requireRole } from '../require-role';
import { syncSoon } from '../sync-soon';

export const deactivate: Command = {
  name: 'deactivate',
  summary: 'Give an active role back early',
  usage: `  pim deactivate ROLE             Give an active role back early (its credentials go at once)`,
  async run({ operands }, { io, withActivation }) {
    const role = operands[0];
    if (!role || operands.length !== 1) throw new UsageError('usage: pim deactivate ROLE');
    return withActivation(async (svc, agent) => {
      requireRole(agent, role);
      for (const a of await svc.deactivate(role)) io.out(`${clean(a.role)} (${a.id}): ${a.state}\n`);
      const creds = await (await svc.credentials()).reconcile();
      for (const l of reportLines(creds)) io.out(`  ${clean(l)}\n`);
      await syncSoon(agent);
      return EXIT.ok;
    });
  },
};
