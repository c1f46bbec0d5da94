// `pim-server audit`: verify the synced audit chains, export the records.
import { parseArgs } from 'node:util';
import { auditFlags, describeProblem, exportRecords, verifyStoredChains } from '../../audit/report';
import { RepoError } from '../../repo/repository';
import { Store } from '../../store/store';
import { one, withServerDb, write, type ServerCommand } from '../command';

export const audit: ServerCommand = {
  name: 'audit',
  usage: `  pim-server audit verify DIR
      Re-verify every device's synced audit chain from its first record and list the events
      ingest flagged (gaps, forks, broken links, foreign or invalid records). Exit 0 when every
      chain is intact and nothing was flagged, 1 otherwise.
  pim-server audit export DIR [--since ISO-TIME] [--device=THUMBPRINT] [--format jsonl]
      Print the synced audit records, one JSON object {device, seq, hash, record} a line,
      ordered by device then seq. --since keeps records at or after that time (record.at).`,
  run: auditCommand,
};

async function auditCommand(rest: string[]): Promise<number> {
  const [sub, ...args] = rest;
  switch (sub) {
    case 'verify': {
      const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
      const dir = one(positionals, 'DIR');
      const { chains, flags } = withServerDb(dir, (db) => {
        const audit = new Store(db).audit;
        return { chains: verifyStoredChains(audit), flags: auditFlags(audit) };
      });
      const out: string[] = [];
      if (!chains.length) out.push('no audit records synced yet');
      for (const c of chains)
        out.push(
          `device ${c.device}: ${c.records} record${c.records === 1 ? '' : 's'}, ${c.problem ? `CHAIN BROKEN — ${describeProblem(c.problem)}` : 'chain intact'}`,
        );
      if (flags.length) {
        out.push(`${flags.length} flagged event${flags.length === 1 ? '' : 's'}:`);
        for (const f of flags)
          out.push(`  ${f.kind}  device ${f.device}  seq ${f.seq ?? '-'}  ${f.detail}  (at ${f.at})`);
      } else out.push('no flagged events');
      process.stdout.write(`${out.join('\n')}\n`);
      return chains.every((c) => c.problem === null) && flags.length === 0 ? 0 : 1;
    }
    case 'export': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          since: { type: 'string' },
          device: { type: 'string' },
          format: { type: 'string', default: 'jsonl' },
        },
      });
      const usage = 'usage: pim-server audit export DIR [--since ISO-TIME] [--device=THUMBPRINT] [--format jsonl]';
      if (values.format !== 'jsonl') {
        process.stderr.write(
          `pim-server: unknown export format "${values.format}": only jsonl is supported\n${usage}\n`,
        );
        return 2;
      }
      let since: Date | undefined;
      if (values.since !== undefined) {
        since = new Date(values.since);
        if (!/^\d{4}-\d\d-\d\d/.test(values.since) || Number.isNaN(since.getTime())) {
          process.stderr.write(
            `pim-server: --since must be an ISO 8601 time (e.g. 2026-01-31T00:00:00Z), got "${values.since}"\n${usage}\n`,
          );
          return 2;
        }
      }
      if (positionals.length !== 1) {
        process.stderr.write(`pim-server: expected exactly one DIR\n${usage}\n`);
        return 2;
      }
      const dir = positionals[0]!;
      await withServerDb(dir, async (db) => {
        let buf = '';
        for (const line of exportRecords(new Store(db).audit, { since, device: values.device })) {
          buf += `${line}\n`;
          if (buf.length >= 1 << 20) {
            await write(buf);
            buf = '';
          }
        }
        if (buf) await write(buf);
      });
      return 0;
    }
    default:
      throw new RepoError('usage: pim-server audit verify|export …');
  }
}
