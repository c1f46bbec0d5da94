import { reportLines } from '../../credentials/scheduler';
import { EXIT, UsageError, type Command } from '../command';
import { clean, utc } from '../format';

export const credentials: Command = {
  name: 'credentials',
  summary: 'What is injected where; `sweep` removes anything of ours past its end',
  usage: `  pim credentials [sweep] [--json]
                                  What is injected where (kube contexts, AWS profiles, SSH
                                  certificates); \`sweep\` removes anything of ours past its end`,
  async run({ operands, options: o }, { io, withActivation }) {
    const sub = operands[0] ?? 'list';
    if (!['list', 'sweep'].includes(sub) || operands.length > 1)
      throw new UsageError('usage: pim credentials [list|sweep] [--json]');
    return withActivation(async (svc) => {
      const mgr = await svc.credentials();
      if (sub === 'sweep') {
        const r = await mgr.sweep();
        if (o.json) io.json(r);
        else for (const l of reportLines(r).length ? reportLines(r) : ['nothing to remove']) io.out(`${clean(l)}\n`);
        return EXIT.ok;
      }
      // a certificate that found no ssh-agent is added now if this shell has one
      if (mgr.injected().some((v) => v.items.some((it) => it.problem))) {
        for (const l of reportLines(await mgr.reconcile()).filter((x) => !x.startsWith('warning:')))
          io.err(`${clean(l)}\n`);
      }
      const list = mgr.injected();
      if (o.json) io.json(list);
      else if (list.length === 0) io.out('No credentials are injected.\n');
      else
        for (const v of list) {
          io.out(
            `${clean(v.role)} (${v.activation}) ${v.endedAt ? `ENDED at ${utc(v.endedAt)}; its helpers explain why until they are removed` : `until ${utc(v.expiresAt)}`}\n`,
          );
          for (const it of v.items)
            io.out(
              it.problem
                ? `  ${it.kind.padEnd(4)} ${clean(it.name)}  NOT ADDED: ${clean(it.problem)}\n`
                : `  ${it.kind.padEnd(4)} ${clean(it.name)}  ${clean(it.where)}\n`,
            );
        }
      return EXIT.ok;
    });
  },
};
