import { auditLine } from '../audit-line';
import { EXIT, UsageError, type CliArgs, type CliServices, type Command } from '../command';

export const audit: Command = {
  name: 'audit',
  summary: 'This device’s audit journal: list it, verify its hash chain, sync it',
  usage: `  pim audit list [--json] [--role ROLE] [--type TYPE] [--limit N]
                                  This device's audit journal (the last N records, default 100)
  pim audit verify                Check the journal's hash chain: exit 0 intact, 1 broken (names
                                  the record) or not verifiable; online, also against the
                                  control plane's signed head
  pim audit sync                  Send the records the control plane does not hold yet`,
  async run(args, services) {
    const sub = args.operands[0];
    if (args.operands.length !== 1 || !['list', 'verify', 'sync'].includes(sub ?? ''))
      throw new UsageError(
        'usage: pim audit list [--json] [--role ROLE] [--type TYPE] [--limit N] | pim audit verify | pim audit sync',
      );
    if (sub === 'list') return list(args, services);
    if (sub === 'verify') return verify(services);
    return services.withAgent(async (agent) => {
      const { syncOnce } = await import('../../audit/sync');
      const r = await syncOnce(agent);
      services.io.out(`synced ${r.sent} records; server holds up to seq ${r.acked}\n`);
      return EXIT.ok;
    });
  },
};

async function list({ options: o }: CliArgs, { io, withAgent }: CliServices): Promise<number> {
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a whole number ≥ 1');
  }
  return withAgent(async (agent) => {
    const records = (await agent.journal()).list({ limit, role: o.role, type: o.type });
    if (o.json) io.json(records);
    else if (records.length === 0)
      io.out('The audit journal has no records yet (it starts when this device is enrolled).\n');
    else for (const r of records) io.out(`${auditLine(r.record)}\n`);
    return EXIT.ok;
  });
}

function verify({ io, withAgent }: CliServices): Promise<number> {
  return withAgent(async (agent) => {
    const j = await agent.journal();
    const v = j.verify();
    if (!v.ok && v.problem?.kind !== 'unverifiable') {
      io.err(`pim: the audit journal is broken: ${v.message}\n`);
      return EXIT.error;
    }
    if (v.device === null) {
      io.out('The audit journal is empty: it starts when this device is enrolled.\n');
      return EXIT.ok;
    }
    // online, the control plane's signed head also catches records deleted together with
    // the signed ack kept here (and the cursor reset)
    const { checkAgainstServerHead } = await import('../../audit/head-check');
    const head = await checkAgainstServerHead(agent, j);
    if (head.kind === 'truncated') {
      io.err(`pim: the audit journal is broken: ${head.message}\n`);
      return EXIT.error;
    }
    if (!v.ok && !(head.kind === 'consistent' && head.seq >= j.acked())) {
      const offline = head.kind === 'unknown' ? ` (${head.why})` : '';
      io.err(`pim: the audit journal cannot be verified: ${v.message}${offline}\n`);
      return EXIT.error;
    }
    const against =
      head.kind === 'consistent'
        ? `the control plane's signed head (seq ${head.seq}) matches`
        : `not compared with the control plane: ${head.why}`;
    io.out(
      `audit journal intact: ${v.count} record(s), device ${v.device.slice(0, 16)}…; the control plane holds up to seq ${j.acked()}; ${against}\n`,
    );
    return EXIT.ok;
  });
}
