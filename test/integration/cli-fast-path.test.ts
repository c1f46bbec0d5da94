// `pim roles` and `pim status` are answered by dist/pim-fast.cjs (issue 11, item 11). Same bytes
// and exit code as the full CLI (dist/pim.cjs) on the same home at the same frozen instant, and
// whatever the full CLI would repair or refuse (a loose folder or file, a newer schema, bad usage)
// is left to it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { activationView } from '../helpers/activation-view';
import { Agent } from '../../agent/agent';
import type { AgentState } from '../../shared/api';
import { PIM, PIM_SERVER, run, start, stop } from '../helpers/procs';
import { ROOT, tmpDir } from '../helpers/repo';
import { requireProgram } from '../helpers/system';

const FULL = path.join(ROOT, 'dist', 'pim.cjs');
const FAST = path.join(ROOT, 'dist', 'pim-fast.cjs');
const USER = 'alice@acme.example';

/** A connected home (the example policy: windows, tickets, approvals) with a day's activations. */
async function connectedHome() {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  const home = path.join(dir, 'home');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  assert.equal(
    run(PIM_SERVER, ['publish', repo, path.join(ROOT, 'examples', 'policy.yaml'), '--expires', '7d']).code,
    0,
  );
  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /at (http:\/\/\S+)/);
  const c = run(PIM, [
    '--home',
    home,
    'connect',
    server.match[1]!,
    '--user',
    USER,
    '--root',
    path.join(repo, 'trust-root.json'),
  ]);
  assert.equal(c.code, 0, c.stderr);
  await stop(server.child);
  const agent = new Agent(home);
  try {
    const now = Date.now();
    const iso = (dt: number) => new Date(now + dt).toISOString();
    const roles = agent.state().roles.map((r) => r.name);
    (['active', 'pending-approval', 'denied'] as const).forEach((state, i) => {
      const view = activationView({
        id: `act-${i}`,
        user: USER,
        role: roles[i]!,
        state,
        request: { device: 'A'.repeat(43), justification: 'on call', ticket: 'INC-1', requestedAt: iso(-60e3) },
        createdAt: iso(-60e3 - i),
        startsAt: state === 'active' ? iso(-30e3) : null,
        expiresAt: state === 'active' ? iso(3600e3) : null,
        endReason: state === 'denied' ? 'not now' : null,
        approvalsNeeded: state === 'pending-approval' ? 1 : 0,
      });
      agent.store.saveActivation(view, new Date(now));
    });
  } finally {
    agent.close();
  }
  return { dir, home };
}

/** Runs `node FILE args` under a frozen wall clock (the monotonic one keeps going: timers work). */
function frozen(faketime: string, at: string, file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(faketime, ['-f', at, process.execPath, file, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1', ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What the fast path itself returns: its exit code, or null when it hands the command back. */
function fastAnswer(args: string[], env: NodeJS.ProcessEnv = {}): number | null {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(FAST)}).run(${JSON.stringify(args)}).then((c) => process.stderr.write('FAST ' + c))`,
    ],
    { encoding: 'utf8', env: { ...process.env, ...env } },
  );
  const m = r.stderr.match(/FAST (\S+)$/);
  assert.ok(m, r.stderr);
  return m[1] === 'null' ? null : Number(m[1]);
}

test('the fast path answers roles and status with the full CLI’s bytes and exit code', async (t) => {
  const faketime = requireProgram(
    t,
    'faketime',
    'both paths must see the same instant for their outputs to be comparable',
  );
  if (!faketime) return;
  const { home } = await connectedHome();
  // a minute after the refresh, frozen: "verified 1 min ago" and `now` are the same for both.
  // 61 s, not 60: the instant is cut to whole seconds, and 60 s cut could read "59 s ago"
  const at = new Date(Date.now() + 61_000).toISOString().replace('T', ' ').slice(0, 19);
  const forms: { args: string[]; env?: NodeJS.ProcessEnv }[] = [
    { args: ['--home', home, 'roles', '--json'] },
    { args: ['--home', home, 'roles'] },
    { args: ['roles', '--all', '--home=' + home] },
    { args: ['--json', 'roles', '--all', '--home', home] },
    { args: ['--home', home, 'status'] },
    { args: ['status', '--json', '--home', home] },
    { args: ['status', '--json'], env: { PIM_HOME: home } },
  ];
  for (const { args, env } of forms) {
    assert.equal(fastAnswer(args, env), 0, `the fast path answered: ${args.join(' ')}`);
    const fast = frozen(faketime, at, PIM, args, env);
    const full = frozen(faketime, at, FULL, args, env);
    assert.equal(fast.code, 0, fast.stderr);
    assert.deepEqual(fast, full, args.join(' '));
  }
  const roles = JSON.parse(frozen(faketime, at, PIM, ['--home', home, 'roles', '--json']).stdout) as AgentState;
  assert.ok(roles.roles.length > 0 && roles.activations.length === 3, 'a real answer was compared');
  assert.match(frozen(faketime, at, PIM, ['--home', home, 'status']).stdout, /Policy v1 · verified 1 min ago/);
});

test('a loose folder or agent.db goes to the full CLI, which makes it private again', async () => {
  const { home } = await connectedHome();
  fs.chmodSync(home, 0o755);
  assert.equal(fastAnswer(['--home', home, 'status']), null);
  const a = run(PIM, ['--home', home, 'status']);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /status: {2}Policy v1/);
  assert.equal(fs.statSync(home).mode & 0o777, 0o700);

  fs.chmodSync(path.join(home, 'agent.db'), 0o644);
  assert.equal(fastAnswer(['--home', home, 'roles', '--json']), null);
  assert.equal(run(PIM, ['--home', home, 'roles', '--json']).code, 0);
  assert.equal(fs.statSync(path.join(home, 'agent.db')).mode & 0o777, 0o600);
  assert.equal(fastAnswer(['--home', home, 'roles', '--json']), 0, 'repaired: fast again');
});

test('an agent.db of a newer schema, a missing home and bad usage get the full CLI’s answers', async () => {
  const { dir, home } = await connectedHome();
  const db = new Database(path.join(home, 'agent.db'));
  const v = db.pragma('user_version', { simple: true }) as number;
  db.pragma(`user_version = ${v + 1}`);
  db.close();
  assert.equal(fastAnswer(['--home', home, 'roles']), null);
  const newer = run(PIM, ['--home', home, 'roles']);
  assert.equal(newer.code, 1);
  assert.match(newer.stderr, /newer PIM Agent/);

  const fresh = path.join(dir, 'fresh');
  assert.equal(fastAnswer(['--home', fresh, 'roles']), null);
  const first = run(PIM, ['--home', fresh, 'roles']);
  assert.equal(first.code, 0);
  assert.match(first.stdout, /Nothing is configured yet/);
  assert.equal(fs.statSync(fresh).mode & 0o777, 0o700, 'created private by the full CLI');

  const bad = run(PIM, ['--home', fresh, 'roles', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'/);
});
