// Audit sync under faults, many rounds:  node --import tsx stress/audit.ts [audit] [--rounds N] [--seed S]
// Each round injects one fault drawn from a seeded PRNG (kill -9 of the agent mid-append or
// mid-sync, the server killed mid-batch, HTTP 500, garbage answers, timeouts, a connection cut
// mid-response), then syncs cleanly and checks: every record the agent committed is on the server
// exactly once, both chains verify, and the agent's cursor is the server's head. Ends with
//   rounds R, records N, lost L, duplicates D
// and exits 1 when anything was lost, duplicated, mismatched or did not verify.
// Needs the built bins (npm run build).
import { parseArgs } from 'node:util';
import { AuditFixture, FAULTS, injectFault, prng, settle } from '../test/helpers/audit-fixture';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rounds: { type: 'string', default: '20' }, seed: { type: 'string' } },
  });
  if (positionals.length > 1 || (positionals[0] && positionals[0] !== 'audit')) {
    process.stderr.write('usage: stress/audit.ts [audit] [--rounds N] [--seed S]\n');
    return 2;
  }
  const rounds = Number(values.rounds);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seed) || seed < 0) {
    process.stderr.write('--rounds must be a whole number ≥ 1 and --seed a whole number ≥ 0\n');
    return 2;
  }
  process.stdout.write(`audit stress: ${rounds} rounds, seed ${seed} (repeat with --seed ${seed})\n`);
  const rnd = prng(seed);
  const t0 = Date.now();
  const fx = await AuditFixture.create();
  let lost = 0;
  let duplicates = 0;
  let failed = 0;
  let records = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      const kind = FAULTS[Math.floor(rnd() * FAULTS.length)]!;
      const r0 = Date.now();
      const before = fx.agentHead();
      const what = await injectFault(fx, kind, rnd);
      const c = await settle(fx);
      lost = Math.max(lost, c.lost);
      duplicates = Math.max(duplicates, c.duplicates);
      records = c.committed;
      if (!c.ok) failed++;
      process.stdout.write(
        `round ${round}/${rounds} ${kind}: ${what}; +${c.agentHead - before} records (${c.committed} total), on server ${c.onServer}, lost ${c.lost}, duplicates ${c.duplicates}, cursor ${c.agentAcked}/${c.serverHead} — ${c.ok ? 'ok' : `FAILED: ${c.problems.join('; ')}`} (${((Date.now() - r0) / 1000).toFixed(1)} s)\n`,
      );
    }
  } finally {
    await fx.close();
  }
  process.stdout.write(
    `(${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${seed}${failed ? `, ${failed} round(s) failed` : ''})\n`,
  );
  // lost / duplicates: what the last round's check found (each round checks everything so far)
  process.stdout.write(`rounds ${rounds}, records ${records}, lost ${lost}, duplicates ${duplicates}\n`);
  return failed || lost || duplicates ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`stress/audit: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
