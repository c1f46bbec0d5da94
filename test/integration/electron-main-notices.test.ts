// The desktop notices of the BUILT main process (dist/electron-main.cjs under the Electron stand-in),
// each caused the way it happens to a user — an approver approves or denies with their own key, a
// role comes within 2 minutes of its end, the control plane serves a rolled-back policy, the audit
// sync keeps failing for over an hour — each shown exactly once however often the menu updates, and
// each click opening the popover on the view it is about.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { touch } from '../helpers/ceremony';
import { cliWorld, decideWithKey, engPolicy, type CliPerson } from '../helpers/cli-world';
import { APP_URL, item, quit, refresh, request, startMain } from '../helpers/electron-main';
import { until, type StandIn } from '../helpers/electron-stand-in';
import { PIM_SERVER, run } from '../helpers/procs';
import { restoreMetadata, snapshotMetadata, tmpDir } from '../helpers/repo';

process.env.PIM_KEYSTORE = 'file';
process.env.HOME = tmpDir('pim-electron-home-');
delete process.env.XDG_CONFIG_HOME;

// admin and deploy: both wait for a lead (one to approve, one to deny)
const POLICY = engPolicy({
  admin: ['justification: optional'],
  rolesAfter: `  - name: deploy
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      justification: optional
      approval: { approvers: { groups: [leads] }, count: 1 }
`,
});

/** bob decides alice's pending request for `role` with his own key. */
async function decide(bob: CliPerson, role: string, decision: 'approve' | 'deny', reason?: string): Promise<void> {
  let pending: { id: string; role: string }[] = [];
  await until(`the ${role} request in bob's approvals`, () => {
    pending = (
      JSON.parse(bob.pim('approvals', '--json').stdout) as { id: string; role: string; state: string }[]
    ).filter((p) => p.role === role && p.state === 'pending-approval');
    return pending.length === 1;
  });
  const cli = await decideWithKey(bob, pending[0]!.id, decision, reason || undefined);
  assert.equal(cli.touched.ok, true);
  assert.equal(cli.code, 0, cli.output);
}

function titled(s: StandIn, title: RegExp) {
  return s.notifications.filter((n) => title.test(n.title));
}

/** Exactly one notification titled `title`, shown; its click opens `fragment`. */
async function onceAndOpens(s: StandIn, title: RegExp, fragment: string, body?: RegExp): Promise<void> {
  await until(`the notice ${title}`, () => titled(s, title).length > 0);
  const [n, ...more] = titled(s, title);
  assert.equal(more.length, 0, `${title} fired once`);
  assert.equal(n!.shown, true);
  if (body) assert.match(n!.body, body);
  n!.emit('click');
  const popover = s.windows[0]!;
  assert.equal(popover.urls.at(-1), `${APP_URL}${fragment}`);
  assert.equal(popover.visible, true);
}

test('approved, denied with the reason, 2 minutes left, a refused policy update, audit sync failing: each notice once, its click opens its view', async () => {
  const { dir, repo, server, people } = await cliWorld(POLICY, [
    ['alice@acme.example', ''],
    ['bob@acme.example', 'eng,leads'],
  ]);
  const alice = people['alice@acme.example']!;
  const bob = people['bob@acme.example']!;
  const s = await startMain(alice.home);
  await until('the verified policy in the menu', () => /^Policy v\d+$/.test(item(s, 'policy')?.label ?? ''));

  // approved: alice asks for admin, bob approves with his key
  assert.equal((await touch(alice.key, await request(s, 'admin', 3600))).value?.state, 'pending-approval');
  await decide(bob, 'admin', 'approve');
  await onceAndOpens(s, /^admin was approved$/, '#view=roles&role=admin', /approved/);

  // denied: the approver's reason is in the notice
  assert.equal((await touch(alice.key, await request(s, 'deploy', 3600))).value?.state, 'pending-approval');
  await decide(bob, 'deploy', 'deny', 'use readonly instead');
  await onceAndOpens(s, /^deploy was denied$/, '#view=roles&role=deploy', /^Reason: use readonly instead$/);

  // two minutes left (the shortest window there is): the T-2 notice with Extend, not the T-10 one
  assert.equal((await touch(alice.key, await request(s, 'readonly', 120))).value?.state, 'active');
  await onceAndOpens(s, /^readonly ends in/, '#view=extend&role=readonly', /extend/i);
  assert.match(titled(s, /^readonly ends in/)[0]!.title, /^readonly ends in [12] minutes?$/);
  await until('Extend in the menu', () => item(s, 'extend:readonly'));

  // a policy update refused as an attack: the control plane serves a rolled-back policy
  const md = path.join(repo, 'repo', 'metadata');
  assert.ok(fs.existsSync(path.join(md, 'timestamp.json')), `the control plane's metadata is in ${md}`);
  const before = snapshotMetadata(repo);
  const version = () => Number(/^Policy v(\d+)/.exec(item(s, 'policy')?.label ?? '')?.[1]);
  const v = version();
  fs.writeFileSync(
    path.join(dir, 'policy.yaml'),
    `${POLICY.replace('name: deploy', 'name: deploy\n    description: Deploys to production')}`,
  );
  const pub = run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']);
  assert.equal(pub.code, 0, pub.stderr);
  await refresh(s);
  await until('the newer policy in the menu', () => version() > v);
  restoreMetadata(repo, before);
  await refresh(s);
  await onceAndOpens(s, /^A policy update was refused$/, '#view=roles', /rollback|older|roll/i);
  // the same refusal at every later refresh is the same notice
  await refresh(s);
  await refresh(s);
  assert.equal(titled(s, /^A policy update was refused$/).length, 1);

  // the journal's sync failing for over an hour: the control plane is gone, and the failure run the
  // agent keeps in agent.db started two hours ago (standing in for the hours passing)
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
  const failingRun = JSON.stringify({
    lastSuccessAt: null,
    failingSince: twoHoursAgo,
    lastError: { code: 'offline', message: 'cannot reach the control plane' },
  });
  const startFailingRun = () => {
    const db = new Database(path.join(alice.home, 'agent.db'));
    try {
      const now = db.prepare("SELECT value FROM meta WHERE key = 'audit_sync'").get() as { value: string } | undefined;
      // a failed sync keeps the run's start; only a success that was in flight as the control
      // plane stopped could have ended it
      if ((JSON.parse(now?.value ?? 'null') as { failingSince?: string } | null)?.failingSince === twoHoursAgo) return;
      db.prepare(
        "INSERT INTO meta (key, value) VALUES ('audit_sync', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ).run(failingRun);
    } finally {
      db.close();
    }
  };
  const auditNotice = /^The audit log is not reaching the control plane$/;
  for (const deadline = Date.now() + 30_000; titled(s, auditNotice).length === 0;) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the audit sync notice');
    startFailingRun();
    await refresh(s);
  }
  await onceAndOpens(s, auditNotice, '#view=audit', /over an hour/);
  await refresh(s);
  assert.equal(titled(s, auditNotice).length, 1);

  // none of them repeated while all this went on
  for (const t of [/^admin was approved$/, /^deploy was denied$/, /^readonly ends in/, /^A policy update was refused$/])
    assert.equal(titled(s, t).length, 1, String(t));
  await quit(s);
});
