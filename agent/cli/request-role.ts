// `pim activate` and `pim extend`: the same signed request (extend chains it to the active one),
// then the same wait.
import { durationOf, waitMs } from './args';
import { EXIT, UsageError, type CliArgs, type CliServices } from './command';
import { clean, utc } from './format';
import { requireRole } from './require-role';
import { outcomeText, waitAndReport } from './wait-report';

export async function requestRole(
  kind: 'activate' | 'extend',
  { operands, options: o }: CliArgs,
  { io, withActivation, openUrl }: CliServices,
): Promise<number> {
  const role = operands[0];
  if (!role || operands.length !== 1)
    throw new UsageError(`usage: pim ${kind} ROLE [--duration 1h] [--reason TEXT] [--ticket ID] [--wait]`);
  const duration = o.duration === undefined ? undefined : durationOf(o.duration);
  return withActivation(async (svc, agent) => {
    requireRole(agent, role);
    const ask = { duration, justification: o.reason, ticket: o.ticket };
    if (kind === 'activate') {
      // unreachable or not enrolled: the request below says so (after the offline policy check)
      const live = await svc.activeOn(role).catch(() => null);
      if (live) {
        // activating twice would only start a second signed request for what is already there
        io.prompt(
          `${clean(role)} is already active until ${live.expiresAt ? utc(live.expiresAt) : '?'}; nothing new was requested. For more time: pim extend ${clean(role)}`,
        );
        const creds = await (await svc.credentials()).reconcile();
        if (o.json) io.json({ ...live, alreadyActive: true, credentials: creds });
        else io.out(outcomeText(live));
        return EXIT.ok;
      }
    }
    const a = kind === 'extend' ? await svc.extend(role, ask) : await svc.request(role, ask);
    io.prompt(`Touch your security key to sign this request: ${a.ceremonyUrl}`);
    if (!o['no-open'] && a.ceremonyUrl) openUrl(a.ceremonyUrl);
    return waitAndReport(svc, agent, a.id, {
      untilDecided: !!o.wait,
      timeoutMs: o.timeout === undefined ? undefined : waitMs(o.timeout, 0),
      json: o.json ? io.json : null,
      out: io.out,
      prompt: io.prompt,
    });
  });
}
