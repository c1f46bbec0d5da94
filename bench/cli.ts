// Everyday commands (issue 11, item 11): `pim roles --json` and `pim status` against a bare
// `node -e 0` started in the same run (goal: within 25 ms of it), and a cold refresh + verify +
// index of a 5,000-role policy for one user (goal: ≤ 250 ms). Prints both figures with ratios.
// BENCH_ROLES / BENCH_USERS change the policy's size.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent } from '../electron/core/agent';
import { serve } from '../server/http';
import { initRepo, publishPolicy } from '../server/repo/repository';
import { median, ms, quantile } from './_stats';

const ROLES = Number(process.env.BENCH_ROLES ?? 5000);
const USERS = Number(process.env.BENCH_USERS ?? 5000);
const GROUPS = 500;
const RUNS = 21;

function policy(): string {
  const l = ['roles:'];
  for (let i = 0; i < ROLES; i++) {
    l.push(`  - name: role-${i}`, `    eligible: { groups: [team-${i % GROUPS}, team-${(i * 7 + 3) % GROUPS}] }`, `    activation: { maxDuration: ${1 + (i % 8)}h, justification: optional }`);
  }
  l.push('users:');
  for (let u = 0; u < USERS; u++) l.push(`  - { email: user${u}@corp.example, groups: [team-${u % GROUPS}, team-${(u * 13 + 1) % GROUPS}] }`);
  return l.join('\n') + '\n';
}

function line(label: string, value: number, base: number, goal: number, kind: 'over' | 'abs'): string {
  const measured = kind === 'over' ? value - base : value;
  return `${label}: ${ms(value)}${kind === 'over' ? ` (bare node ${ms(base)}: +${ms(measured)}, ratio ${(value / base).toFixed(2)}×)` : ` (ratio to goal ${(value / goal).toFixed(2)}×)`} — goal ${kind === 'over' ? `≤ +${goal} ms` : `≤ ${goal} ms`}: ${measured <= goal ? 'met' : 'NOT met'}`;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-bench-cli-'));
  try {
    const repo = path.join(dir, 'repo');
    initRepo(repo);
    publishPolicy(repo, policy());
    const srv = await serve(repo, { host: '127.0.0.1', port: 0 });
    const root = fs.readFileSync(path.join(repo, 'trust-root.json'));
    const user = 'user4242@corp.example';

    const cold: number[] = [];
    let home = '';
    for (let i = 0; i < 7; i++) {
      home = path.join(dir, `home-${i}`);
      const agent = new Agent(home);
      agent.connect({ server: srv.url, user, root, unenrolled: true });
      const t = performance.now();
      await agent.refresh();
      agent.state();
      cold.push(performance.now() - t);
      agent.close();
    }
    await srv.close();

    // the commands as a user runs them, interleaved with a bare node so both see the same load
    const bin = path.join(__dirname, '..', 'bin', 'pim.cjs');
    const times = { bare: [] as number[], roles: [] as number[], status: [] as number[] };
    const time = (args: string[]) => {
      const t = performance.now();
      const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
      return performance.now() - t;
    };
    for (let i = 0; i < RUNS; i++) {
      times.bare.push(time(['-e', '0']));
      times.roles.push(time([bin, '--home', home, 'roles', '--json']));
      times.status.push(time([bin, '--home', home, 'status']));
    }
    const bare = median(times.bare);
    console.log(`policy: ${ROLES} roles, ${USERS} users; medians of ${RUNS} runs (p95 in brackets)`);
    console.log(`${line('pim roles --json', median(times.roles), bare, 25, 'over')} [p95 ${ms(quantile(times.roles, 0.95))}]`);
    console.log(`${line('pim status', median(times.status), bare, 25, 'over')} [p95 ${ms(quantile(times.status, 0.95))}]`);
    console.log(line('cold refresh + verify + index, one user (median of 7)', median(cold), 0, 250, 'abs'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
