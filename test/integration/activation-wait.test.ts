// `pim activate --wait` as someone waiting minutes or hours for an approval meets it: the wait
// outlasts every per-call timeout, survives a control plane restart, Ctrl-C leaves the request
// pending with a way back (`pim wait ID`), and --json prints one object whatever the outcome.
//
// Timing knobs keep this fast without changing what is proved: PIM_HTTP_TIMEOUT_MS=1000 makes an
// ordinary call give up after 1 s and PIM_LONG_POLL_S=2 asks the server to hold each poll for 2 s —
// the shape that used to fail (a poll held longer than the call's own timeout), at 1/15 the scale.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { touch } from '../helpers/ceremony';
import { TICKET, cliWorld, decideWithKey, engPolicy, type CliPerson } from '../helpers/cli-world';
import { PIM_SERVER, start, stop } from '../helpers/procs';

const POLICY = engPolicy({ admin: [TICKET], users: [] });

const slow = { PIM_KEYSTORE: 'file', PIM_HTTP_TIMEOUT_MS: '1000', PIM_LONG_POLL_S: '2' };

async function setup() {
  const w = await cliWorld(POLICY, [
    ['alice@acme.example', 'eng'],
    ['bob@acme.example', 'eng,leads'],
  ]);
  return { ...w, alice: w.people['alice@acme.example']!, bob: w.people['bob@acme.example']! };
}

type Proc = Awaited<ReturnType<typeof start>>;

/** Resolves once everything `p` printed since it started matches `re` `times` times (fails after
 *  60 s of not matching, with what it printed). */
function sees(p: Proc, re: RegExp, times = 1): Promise<void> {
  const g = new RegExp(re.source, 'g');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no ${re} ×${times} within 60 s:\n${p.output()}`)), 60_000);
    const check = () => (p.output().match(g) ?? []).length >= times && finish();
    const onExit = (code: number | null) =>
      finish(new Error(`exited (${code}) before ${re} ×${times}:\n${p.output()}`));
    function finish(e?: Error) {
      clearTimeout(timer);
      p.child.stderr!.off('data', check);
      p.child.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    }
    // the helper's own listener ran first, so output() already holds this chunk
    p.child.stderr!.on('data', check);
    p.child.once('exit', onExit);
    check();
  });
}

/** The one JSON object in a process's output (stdout comes first; stderr has no braces). */
function jsonOf(output: string): unknown {
  return JSON.parse(output.slice(output.indexOf('{'), output.lastIndexOf('}') + 1));
}

/** bob approves the one request waiting for him, touching his key on the printed ceremony. */
async function bobApproves(bob: CliPerson) {
  const pending = JSON.parse(bob.pim('approvals', '--json').stdout) as { id: string }[];
  assert.equal(pending.length, 1);
  const approve = await decideWithKey(bob, pending[0]!.id, 'approve');
  assert.equal(approve.code, 0, approve.output);
}

/** alice asks for admin with ticket `ticket` and waits for the answer (`--wait`, then `more`);
 *  match[1] is the ceremony her key signs on. */
function askForAdmin(alice: CliPerson, ticket: string, more: string[], env?: NodeJS.ProcessEnv) {
  return alice.start(
    ['activate', 'admin', '--ticket', ticket, '--reason', 'node 17 hangs', '--wait', ...more, '--no-open'],
    /sign this request: (\S+)/,
    env,
  );
}

test('a key touch and an approval that each take longer than one call may: the CLI keeps waiting and answers with one JSON object', async () => {
  const { alice, bob } = await setup();
  const act = await askForAdmin(alice, 'INC-1', ['--json'], slow);
  // two held polls (2 s each, longer than the 1 s call timeout) pass before the key is touched
  await sees(act, /still waiting for your key touch/, 2);
  assert.equal((await touch(alice.key, act.match[1]!)).value?.state, 'pending-approval');
  await sees(act, /still waiting for approval/, 2);
  await bobApproves(bob);
  assert.equal(await act.exited(), 0, act.output());
  const answer = jsonOf(act.output()) as { state: string; role: string; approvals: { approver: string }[] };
  assert.equal(answer.state, 'active');
  assert.deepEqual(
    answer.approvals.map((a) => a.approver),
    ['bob@acme.example'],
  );
  assert.doesNotMatch(act.output(), /TimeoutError|cannot reach/);
});

test('the control plane restarts while --wait waits: the CLI retries with backoff and gets the approval', async () => {
  const { alice, bob, server, repo } = await setup();
  const url = new URL(server.match[1]!);
  const act = await askForAdmin(alice, 'INC-2', [], slow);
  await touch(alice.key, act.match[1]!);
  await sees(act, /waiting for approval/);
  await stop(server.child);
  await sees(act, /cannot reach the control plane.*retrying in \d+ s \(attempt 1\); the request is kept/);
  await start(PIM_SERVER, ['serve', repo, '--listen', `127.0.0.1:${url.port}`], /people open (http:\/\/\S+)\)/);
  await sees(act, /reached the control plane again/);
  await bobApproves(bob);
  assert.equal(await act.exited(), 0, act.output());
  assert.match(act.output(), /admin is ACTIVE until/);
});

test('Ctrl-C stops waiting but not the request; `pim wait ID` picks it up and ends active', async () => {
  const { alice, bob } = await setup();
  const act = await askForAdmin(alice, 'INC-3', ['--json']);
  await touch(alice.key, act.match[1]!);
  await sees(act, /waiting for approval/);
  act.child.kill('SIGINT');
  assert.equal(await act.exited(), 4, act.output());
  const id = /Pick it up again with: pim wait (\S+)/.exec(act.output())?.[1];
  assert.ok(id, act.output());
  const stopped = jsonOf(act.output()) as { state: string; resume: string };
  assert.equal(stopped.state, 'pending-approval');
  assert.equal(stopped.resume, `pim wait ${id}`);

  const again = await alice.start(['wait', id], /waiting for approval/);
  await bobApproves(bob);
  assert.equal(await again.exited(), 0, again.output());
  assert.match(again.output(), /admin is ACTIVE until/);
  const listing = alice.pim('activations');
  assert.match(listing.stdout, /^ID\s+ROLE\s+STATE\s+UNTIL\s+APPROVED BY$/m);
  assert.match(
    alice.pim('audit', 'list', '--type', 'activation-active').stdout,
    /activation-active\s+admin \(\S+\) until \S+, approved by bob@acme\.example/,
  );
  assert.match(listing.stdout, new RegExp(`^${id}\\s+admin\\s+active\\s+\\S+ \\S+ UTC\\s+bob@acme\\.example$`, 'm'));
});

test('Ctrl-C while the control plane cannot be reached exits 4 with the state last seen, not an error', async () => {
  const { alice, server } = await setup();
  const act = await askForAdmin(alice, 'INC-4', []);
  await touch(alice.key, act.match[1]!);
  await sees(act, /waiting for approval/);
  act.child.kill('SIGINT');
  assert.equal(await act.exited(), 4, act.output());
  const id = /Pick it up again with: pim wait (\S+)/.exec(act.output())?.[1];
  assert.ok(id, act.output());
  await stop(server.child);
  // a fresh `pim wait` has seen nothing yet when it is stopped: it answers from agent.db
  const again = await alice.start(['wait', id], /retrying in \d+ s \(attempt 1\)/);
  again.child.kill('SIGINT');
  assert.equal(await again.exited(), 4, again.output());
  assert.match(
    again.output(),
    new RegExp(`Stopped waiting: admin \\(${id}\\) is still pending-approval; nothing was withdrawn`),
  );
  assert.match(again.output(), /admin is WAITING FOR APPROVAL \(1 needed\)/);
});

test('policy refusals exit 3, with --json one error object; an active role is not requested again', async () => {
  const { alice } = await setup();
  const r = alice.pim('activate', 'admin', '--ticket', 'CHG-1', '--no-open');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /ticket-invalid/);
  const j = alice.pim('activate', 'admin', '--ticket', 'CHG-1', '--no-open', '--json');
  assert.equal(j.code, 3);
  assert.deepEqual(JSON.parse(j.stdout), {
    ok: false,
    exitCode: 3,
    error: { code: 'not-allowed', message: j.stderr.replace(/^pim: /, '').trim() },
  });
  const unknown = alice.pim('activations', '--json', '--home', '/nonexistent/x');
  assert.equal(
    (JSON.parse(unknown.stdout) as { ok: boolean }).ok,
    false,
    'any command: --json answers with an object on failure',
  );

  const act = await alice.start(['activate', 'readonly', '--no-open'], /sign this request: (\S+)/);
  await touch(alice.key, act.match[1]!);
  assert.equal(await act.exited(), 0, act.output());
  const twice = alice.pim('activate', 'readonly', '--no-open');
  assert.equal(twice.code, 0, twice.stderr);
  assert.match(
    twice.stderr,
    /readonly is already active until \d{4}-\d\d-\d\d \d\d:\d\d UTC; nothing new was requested\. For more time: pim extend readonly/,
  );
  assert.doesNotMatch(twice.stderr, /Touch your security key/);
  const list = JSON.parse(alice.pim('activations', '--json').stdout) as { role: string }[];
  assert.equal(list.filter((a) => a.role === 'readonly').length, 1, 'no second request');
});
