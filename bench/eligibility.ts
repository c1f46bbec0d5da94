// Eligibility at scale: a generated policy with 5,000 roles and 50,000 users.
// Prints: publish time; agent refresh + verify + index for one user; decide over all roles for
// one user (p50, p99); wall time of the `pim roles --json` process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent } from '../agent/agent';
import { decideAll, indexRoles, subjectFromMember } from '../shared/policy';
import type { MemberFile, RolesFile } from '../shared/policy/types';
import { serve } from '../server/http';
import { initRepo, publishPolicy } from '../server/repo/repository';
import { generatePolicy } from './_policy';
import { goal, median, ms, quantile } from './_stats';

const ROLES = Number(process.env.BENCH_ROLES ?? 5000);
const USERS = Number(process.env.BENCH_USERS ?? 50000);
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-bench-elig-'));
  try {
    const yaml = generatePolicy(ROLES, USERS);
    console.log(`policy: ${ROLES} roles, ${USERS} users, ${(yaml.length / 1e6).toFixed(1)} MB of YAML`);
    const repo = path.join(dir, 'repo');
    initRepo(repo);
    let t = performance.now();
    const pub = publishPolicy(repo, yaml);
    console.log(`publish (parse + validate + compile + sign ${pub.bins} bins + write): ${ms(performance.now() - t)}`);
    const srv = await serve(repo, { host: '127.0.0.1', port: 0 });
    const root = fs.readFileSync(path.join(repo, 'trust-root.json'));
    const user = 'user4242@corp.example';

    // refresh + verify + index, cold (fresh agent home: whole TUF chain + the user's bin + 2 targets)
    const cold: number[] = [];
    let home = '';
    for (let i = 0; i < 7; i++) {
      home = path.join(dir, `home-${i}`);
      const agent = new Agent(home);
      agent.connect({ server: srv.url, user, root, unenrolled: true });
      t = performance.now();
      await agent.refresh();
      agent.state(); // builds the index and decides: what the UI's first paint needs
      cold.push(performance.now() - t);
      agent.close();
    }
    // warm: an agent that already holds the current version (the periodic refresh)
    const warm: number[] = [];
    const agent = new Agent(home);
    for (let i = 0; i < 7; i++) {
      t = performance.now();
      await agent.refresh();
      agent.state();
      warm.push(performance.now() - t);
    }
    const p = agent.store.policy()!;
    agent.close();
    await srv.close();
    console.log(goal('agent refresh + verify + index, one user, cold (median of 7)', median(cold), 250));
    console.log(`agent refresh, already current (median of 7): ${ms(median(warm))}`);

    // decide over all roles for one user
    const roles = JSON.parse(p.rolesJson) as RolesFile;
    const index = indexRoles(roles);
    const subject = subjectFromMember(JSON.parse(p.memberJson!) as MemberFile);
    const now = new Date();
    const expires = new Date(p.expires);
    for (let i = 0; i < 200; i++) decideAll(subject, index, now, { all: true, policyExpires: expires });
    const times: number[] = [];
    let relevant = 0;
    for (let i = 0; i < 2000; i++) {
      t = performance.now();
      const r = decideAll(subject, index, now, { all: true, policyExpires: expires });
      times.push(performance.now() - t);
      relevant = r.relevant.filter((d) => d.allowed).length;
    }
    console.log(
      `decide over all ${ROLES} roles for one user (${relevant} allowed): p50 ${ms(median(times))}, ${goal('p99', quantile(times, 0.99), 2)}`,
    );

    // the CLI as a user runs it
    const pimBin = path.join(__dirname, '..', 'bin', 'pim.cjs');
    // interleaved with a bare `node` so both see the same machine load
    const wall: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 21; i++) {
      t = performance.now();
      const r = spawnSync(process.execPath, [pimBin, '--home', home, 'roles', '--json'], { encoding: 'utf8' });
      wall.push(performance.now() - t);
      if (r.status !== 0) throw new Error(r.stderr);
      t = performance.now();
      spawnSync(process.execPath, ['-e', '0']);
      bare.push(performance.now() - t);
    }
    console.log(
      `${goal('`pim roles --json` wall (median of 21)', median(wall), 150)}; p95 ${ms(quantile(wall, 0.95))}`,
    );
    console.log(
      `  same run, bare \`node -e 0\`: ${ms(median(bare))} → pim's own cost ${ms(median(wall) - median(bare))}, ratio ${(median(wall) / median(bare)).toFixed(2)}×`,
    );
    if (process.env.BENCH_KEEP) console.log(`kept: agent home ${home}`);
  } finally {
    if (!process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
