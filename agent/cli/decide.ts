// `pim approve` and `pim deny`: one signed decision on someone's request, then its outcome.
import { waitMs } from './args';
import { EXIT, UsageError, type CliArgs, type CliServices } from './command';
import { clean } from './format';
import { syncSoon } from './sync-soon';

/** Both commands' lines in `pim help` (and either's --help): they are one thing to learn. */
export const DECIDE_USAGE = `  pim approve ID [--reason TEXT] [--no-open]
  pim deny ID --reason TEXT [--no-open]
                                  Decide on a request; your key signs the decision`;

export async function decide(
  decision: 'approve' | 'deny',
  { operands, options: o }: CliArgs,
  { io, withActivation, openUrl }: CliServices,
): Promise<number> {
  const id = operands[0];
  if (!id || operands.length !== 1)
    throw new UsageError(`usage: pim ${decision} ID${decision === 'deny' ? ' --reason TEXT' : ' [--reason TEXT]'}`);
  if (decision === 'deny' && !o.reason?.trim())
    throw new UsageError('a denial needs --reason: the requester will see it');
  return withActivation(async (svc, agent) => {
    const c = await svc.decide(id, decision, o.reason ?? null);
    io.prompt(`Touch your security key to sign your decision: ${c.ceremonyUrl}`);
    if (!o['no-open']) openUrl(c.ceremonyUrl);
    const a = await svc.waitForDecision(id, agent.store.connection()!.user, waitMs(o.timeout, 10 * 60_000));
    await syncSoon(agent);
    io.out(`${clean(a.role)} for ${clean(a.user)}: ${a.state}\n`);
    return a.approvals.some((x) => x.approver === agent.store.connection()!.user) ? EXIT.ok : EXIT.pending;
  });
}
