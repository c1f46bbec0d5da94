// Everyday commands (issue 11, item 11): `pim roles --json` and `pim status` against a bare
// `node -e 0` started in the same run (goal: within 25 ms of it), and a cold refresh + verify +
// index of a 5,000-role policy for one user (goal: ≤ 250 ms). The policy is bench/eligibility.ts's
// (windows, tickets, approvals, 500 groups, 50,000 users in the directory) and the agent home
// holds a few activations, as a working day leaves it. Prints each figure, its goal, met or not,
// and its ratio; wall-clock medians, so a busy machine shows in them: the load average is printed.
// BENCH_ROLES / BENCH_USERS change the policy's size, BENCH_RUNS the runs per command (≥ 20).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActivationView } from '../shared/activation';
import { Agent } from '../agent/agent';
import { serve } from '../server/http';
import { initRepo, publishPolicy } from '../server/repo/repository';
import { generatePolicy } from './_policy';
import { median, ms, quantile } from './_stats';

const ROLES = Number(process.env.BENCH_ROLES ?? 5000);
const USERS = Number(process.env.BENCH_USERS ?? 50000);
const RUNS = Math.max(20, Number(process.env.BENCH_RUNS ?? 25));
const USER = 'user4242@corp.example';

function line(label: string, value: number, base: number, goal: number, kind: 'over' | 'abs'): string {
  const measured = kind === 'over' ? value - base : value;
  return `${label}: ${ms(value)}${kind === 'over' ? ` (bare node ${ms(base)}: +${ms(measured)}, ratio ${(value / base).toFixed(2)}×)` : ` (ratio to goal ${(value / goal).toFixed(2)}×)`} — goal ${kind === 'over' ? `≤ +${goal} ms` : `≤ ${goal} ms`}: ${measured <= goal ? 'met' : 'NOT met'}`;
}

/** A working day's activations: two active, one waiting for approval, three ended this hour. */
function seedActivations(agent: Agent, roles: string[]): void {
  const now = Date.now();
  const iso = (dt: number) => new Date(now + dt).toISOString();
  const states: [ActivationView['state'], number][] = [
    ['active', 3600e3],
    ['active', 600e3],
    ['pending-approval', 0],
    ['expired', -600e3],
    ['denied', -1200e3],
    ['expired', -1800e3],
  ];
  states.forEach(([state, left], i) => {
    const live = state === 'active';
    const view: ActivationView = {
      id: `bench-${i}`,
      user: USER,
      role: roles[i % roles.length]!,
      state,
      request: {
        v: 1,
        kind: 'activate',
        user: USER,
        device: 'A'.repeat(43),
        role: roles[i % roles.length]!,
        duration: 3600,
        justification: 'on call',
        ticket: 'INC-1234',
        sshPublicKey: null,
        policyVersion: 1,
        requestedAt: iso(-3600e3),
        extends: null,
      },
      requestSha256: '0'.repeat(64),
      createdAt: iso(-3600e3 - i * 1000),
      startsAt: live ? iso(-60e3) : null,
      expiresAt: live ? iso(left) : left < 0 ? iso(left) : null,
      endReason: state === 'denied' ? 'not now' : state === 'expired' ? 'the activation window ended' : null,
      approvals:
        state === 'denied'
          ? [{ approver: 'lead@corp.example', decision: 'deny', reason: 'not now', at: iso(left) }]
          : [],
      approvalsNeeded: state === 'pending-approval' ? 1 : 0,
      ceremonyUrl: null,
    };
    agent.store.saveActivation(view, new Date(now));
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-bench-cli-'));
  try {
    const yaml = generatePolicy(ROLES, USERS);
    const repo = path.join(dir, 'repo');
    initRepo(repo);
    publishPolicy(repo, yaml);
    const srv = await serve(repo, { host: '127.0.0.1', port: 0 });
    const root = fs.readFileSync(path.join(repo, 'trust-root.json'));

    const cold: number[] = [];
    let home = '';
    for (let i = 0; i < 7; i++) {
      home = path.join(dir, `home-${i}`);
      const agent = new Agent(home);
      agent.connect({ server: srv.url, user: USER, root, unenrolled: true });
      const t = performance.now();
      await agent.refresh();
      agent.state(); // builds the index and decides: what the UI's first paint needs
      cold.push(performance.now() - t);
      if (i === 6)
        seedActivations(
          agent,
          agent.state().roles.map((r) => r.name),
        );
      agent.close();
    }
    await srv.close();

    // the commands as a user runs them, interleaved with a bare node so all see the same load;
    // `full` is the whole CLI (dist/pim.cjs) on the same home, for comparison
    const root_ = path.join(__dirname, '..');
    const bin = path.join(root_, 'bin', 'pim.cjs');
    const full = path.join(root_, 'dist', 'pim.cjs');
    const cmds = {
      bare: ['-e', '0'],
      roles: [bin, '--home', home, 'roles', '--json'],
      status: [bin, '--home', home, 'status'],
      fullRoles: [full, '--home', home, 'roles', '--json'],
      fullStatus: [full, '--home', home, 'status'],
    };
    const times = Object.fromEntries(Object.keys(cmds).map((k) => [k, [] as number[]])) as Record<
      keyof typeof cmds,
      number[]
    >;
    for (let i = 0; i < RUNS + 2; i++) {
      for (const [k, args] of Object.entries(cmds) as [keyof typeof cmds, string[]][]) {
        const t = performance.now();
        const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
        const dt = performance.now() - t;
        if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
        if (i >= 2) times[k].push(dt); // two rounds to warm the page cache
      }
    }
    // CPU time (user + system) of each process, read at its exit: far less sensitive to other
    // load than wall time, so it shows what the commands themselves cost next to node's own start
    const preload = path.join(dir, 'cpu.cjs');
    fs.writeFileSync(
      preload,
      "process.on('exit', () => { const u = process.cpuUsage(); require('fs').writeSync(2, '\\nCPU ' + (u.user + u.system) / 1000); });\n",
    );
    const cpu = { bare: [] as number[], roles: [] as number[], status: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      for (const k of ['bare', 'roles', 'status'] as const) {
        const r = spawnSync(process.execPath, ['-r', preload, ...cmds[k]], { encoding: 'utf8' });
        cpu[k].push(Number(/CPU (\S+)$/.exec(r.stderr)?.[1]));
      }
    }
    const bare = median(times.bare);
    const p95 = (xs: number[]) => ` [p95 ${ms(quantile(xs, 0.95))}]`;
    console.log(
      `policy: ${ROLES} roles, ${USERS} users, ${(yaml.length / 1e6).toFixed(1)} MB of YAML; home with ${6} activations`,
    );
    console.log(
      `medians of ${RUNS} runs each; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`,
    );
    console.log(line('pim roles --json', median(times.roles), bare, 25, 'over') + p95(times.roles));
    console.log(line('pim status', median(times.status), bare, 25, 'over') + p95(times.status));
    console.log(
      `  for comparison, the full CLI on the same home: roles --json +${ms(median(times.fullRoles) - bare)}, status +${ms(median(times.fullStatus) - bare)}`,
    );
    const bareCpu = median(cpu.bare);
    console.log(
      `  CPU time (user + system, median): bare node ${ms(bareCpu)}; pim roles --json +${ms(median(cpu.roles) - bareCpu)}, pim status +${ms(median(cpu.status) - bareCpu)}`,
    );
    console.log(line('cold refresh + verify + index, one user (median of 7)', median(cold), 0, 250, 'abs'));
    if (process.env.BENCH_KEEP) console.log(`kept: agent home ${home}`);
  } finally {
    if (!process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
