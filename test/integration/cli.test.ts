// The acceptance sequence as a newcomer types it, with the built `pim-server` and `pim` bins:
// init, publish, serve, connect, roles, check, status — then the server stops half way and the
// agent keeps answering from its verified copy; a moved clock makes that copy expire.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'vitest';
import type { AgentState, RoleView } from '../../shared/api';
import { PIM, PIM_SERVER, run, start, stop } from '../helpers/procs';
import { ROOT, tmpDir } from '../helpers/repo';
import { webShellSession } from '../helpers/browser';
import { freePort } from '../helpers/net';
import { requireProgram } from '../helpers/system';

function setup() {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  const home = path.join(dir, 'home');
  const pim = (...args: string[]) => run(PIM, ['--home', home, ...args]);
  return { dir, repo, home, pim };
}

test('pim and pim-server --help work and say what each command does', () => {
  const a = run(PIM, ['--help']);
  assert.equal(a.code, 0);
  for (const cmd of ['connect', 'policy refresh', 'roles', 'check', 'status', 'agent', 'ui'])
    assert.ok(a.stdout.includes(`pim ${cmd}`), cmd);
  const b = run(PIM_SERVER, ['--help']);
  assert.equal(b.code, 0);
  for (const cmd of ['init', 'publish', 'rotate-root', 'serve']) assert.ok(b.stdout.includes(`pim-server ${cmd}`), cmd);
});

test('small things a user notices: --version, per-command help, a first `pim roles` that says what to do', () => {
  const { pim } = setup();
  const v = run(PIM, ['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^pim \d+\.\d+\.\d+ \(Node \d+/);
  const h = run(PIM, ['activate', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage:\n {2}pim activate ROLE/);
  assert.doesNotMatch(h.stdout, /pim connect|pim audit/, 'only that command');
  assert.match(h.stdout, /Exit codes: 0 done, 1 error, 2 usage, 3 refused by policy, 4 waiting/);
  // a request refused by the policy in force when it is signed or approved was submitted: 5, not 3
  assert.match(
    h.stdout.replace(/\s+/g, ' '),
    /3 refused by policy before anything was signed; 4 still waiting; 5 ended without becoming active: denied by an approver, refused by the policy in force when it was signed or approved/,
  );
  assert.match(
    h.stdout.replace(/\s+/g, ' '),
    /Ctrl-C stops waiting and leaves the request pending \(exit 4, also when the control plane cannot be reached\)/,
  );
  assert.match(run(PIM, ['help', 'wait']).stdout, /pim wait ID/);
  const first = pim('roles');
  assert.equal(first.code, 0);
  assert.match(
    first.stdout,
    /Nothing is configured yet\. Try it with the demo: `npm start`.*or enrol with the link from your admin: `pim enroll LINK`/,
  );
});

test('the whole CLI sequence, with the server stopped half way', async () => {
  const { repo, home, pim } = setup();
  const init = run(PIM_SERVER, ['init', repo]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /trust root sha256: [0-9a-f]{64}/);
  assert.equal(fs.statSync(path.join(repo, 'keys')).mode & 0o777, 0o700);
  for (const f of fs.readdirSync(path.join(repo, 'keys')).filter((n) => n.endsWith('.json'))) {
    assert.equal(fs.statSync(path.join(repo, 'keys', f)).mode & 0o777, 0o600, f);
  }
  const pub = run(PIM_SERVER, ['publish', repo, path.join(ROOT, 'examples', 'policy.yaml'), '--expires', '7d']);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /published policy version 1/);

  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /at (http:\/\/\S+)/);
  const c = pim(
    'connect',
    server.match[1]!,
    '--user',
    'alice@acme.example',
    '--root',
    path.join(repo, 'trust-root.json'),
  );
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /demo\/test path/);
  assert.equal(fs.statSync(home).mode & 0o777, 0o700, 'the agent home is private');

  const roles = JSON.parse(pim('roles', '--json').stdout) as AgentState;
  assert.equal(roles.connection, 'online');
  assert.equal(roles.policy?.version, 1);
  const allowed = roles.roles.filter((r) => r.decision.allowed).map((r) => r.name);
  assert.ok(allowed.includes('gpu-cluster-readonly'));
  assert.ok(allowed.includes('ai-cluster-admin'));

  const ok = pim('check', 'gpu-cluster-readonly', '--duration', '1h');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const tooLong = pim('check', 'ai-cluster-admin', '--duration', '3h', '--json');
  assert.equal(tooLong.code, 3);
  const decision = JSON.parse(tooLong.stdout) as RoleView['decision'];
  assert.ok(decision.reasons.some((r) => r.code === 'duration-exceeds-max'));
  const unknown = pim('check', 'no-such-role');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no role named "no-such-role"/);
  for (const cmd of [['check'], ['env'], ['deactivate'], ['activate']]) {
    const typo = pim(...cmd, 'gpu-cluster-readonyl');
    assert.equal(typo.code, 1, `${cmd.join(',')}: ${typo.stderr}`);
    assert.match(
      typo.stderr,
      /no role named "gpu-cluster-readonyl" in policy v1; did you mean "gpu-cluster-readonly"\?/,
      cmd[0],
    );
    assert.doesNotMatch(typo.stderr, /pim activate gpu-cluster-readonyl/, 'no advice to activate the typo');
  }
  const badDuration = pim('check', 'gpu-cluster-readonly', '--duration', 'soon');
  assert.equal(badDuration.code, 2);

  // half way: the control plane goes away
  await stop(server.child);
  const refresh = pim('policy', 'refresh');
  assert.equal(refresh.code, 1);
  assert.match(refresh.stderr, /cannot reach the control plane/);
  assert.match(refresh.stderr, /keeping the cached policy v1/);
  const offline = JSON.parse(pim('roles', '--json').stdout) as AgentState;
  assert.equal(offline.connection, 'offline');
  assert.deepEqual(
    offline.roles.map((r) => r.name),
    roles.roles.map((r) => r.name),
  );
  const status = JSON.parse(pim('status', '--json').stdout) as Omit<AgentState, 'roles'> & {
    unenrolled: boolean | null;
  };
  assert.equal(status.policy?.version, 1);
  assert.equal(status.connection, 'offline');
  assert.equal(status.unenrolled, true);
  assert.equal(pim('check', 'gpu-cluster-readonly').code, 0, 'still answered offline');
});

test('past the policy expiry (clock moved with faketime) every role is policy-expired', async (t) => {
  const faketime = requireProgram(t, 'faketime', 'expiry is tested by moving the agent process clock for real');
  if (!faketime) return;
  const { repo, home, pim } = setup();
  run(PIM_SERVER, ['init', repo]);
  run(PIM_SERVER, ['publish', repo, path.join(ROOT, 'examples', 'policy.yaml'), '--expires', '2d']);
  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /at (http:\/\/\S+)/);
  assert.equal(
    pim('connect', server.match[1]!, '--user', 'alice@acme.example', '--root', path.join(repo, 'trust-root.json')).code,
    0,
  );
  await stop(server.child);
  const later = new Date(Date.now() + 3 * 86400_000).toISOString().replace('T', ' ').slice(0, 19);
  const r = spawnSync(faketime, [later, process.execPath, PIM, '--home', home, 'roles', '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as AgentState;
  assert.ok(s.roles.length > 0);
  for (const role of s.roles) {
    assert.equal(role.decision.allowed, false);
    assert.equal(role.decision.reasons[0]!.code, 'policy-expired');
  }
  const check = spawnSync(faketime, [later, process.execPath, PIM, '--home', home, 'check', 'gpu-cluster-readonly'], {
    encoding: 'utf8',
  });
  assert.equal(check.status, 3);
  assert.match(check.stdout, /policy-expired/);
});

test('connect refuses a trust root that is not a TUF root, and a non-URL server', () => {
  const { dir, pim } = setup();
  const bogus = path.join(dir, 'bogus.json');
  fs.writeFileSync(bogus, '{"signed":{"_type":"targets"}}');
  const a = pim('connect', 'http://127.0.0.1:1', '--user', 'alice@acme.example', '--root', bogus);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /not a TUF root/);
  const b = pim('connect', 'not a url', '--user', 'alice@acme.example', '--root', bogus);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /not a URL/);
  const c = pim('connect', 'http://127.0.0.1:1', '--user', 'alice', '--root', bogus);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /not an e-mail/);
});

test('connect fails loudly, naming the cause and the fix: refused, wrong trust root, wrong path, unknown user', async () => {
  const { dir, repo, pim } = setup();
  run(PIM_SERVER, ['init', repo]);
  run(PIM_SERVER, ['publish', repo, path.join(ROOT, 'examples', 'policy.yaml')]);
  const other = path.join(dir, 'other');
  run(PIM_SERVER, ['init', other]);
  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /at (http:\/\/\S+)/);
  const url = server.match[1]!;
  const root = path.join(repo, 'trust-root.json');
  const closed = `http://127.0.0.1:${await freePort()}`;
  const cases: [string, string[], RegExp][] = [
    [
      'refused',
      [closed, '--user', 'alice@acme.example', '--root', root],
      /cannot reach a control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is `pim-server serve` running there/,
    ],
    [
      'wrong root',
      [url, '--user', 'alice@acme.example', '--root', path.join(other, 'trust-root.json')],
      /is not signed by the trust root in \S+other\/trust-root\.json .*another control plane's root — get trust-root\.json from this control plane's admin/,
    ],
    [
      'wrong path',
      [`${url}/pim`, '--user', 'alice@acme.example', '--root', root],
      /does not answer like a PIM control plane \(HTTP 404 at \/healthz\): use the address `pim-server serve` prints, without a path/,
    ],
    [
      'unknown user',
      [url, '--user', 'nobody@acme.example', '--root', root],
      /does not know nobody@acme\.example: check the spelling, or ask its admin to add you/,
    ],
  ];
  for (const [name, args, why] of cases) {
    const r = pim('connect', ...args);
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, why, name);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one sentence`);
    assert.doesNotMatch(r.stdout, /connected to/, `${name}: no success reported`);
    assert.doesNotMatch(
      r.stderr,
      /signed by \d\/\d keys|has not published a policy/,
      `${name}: no jargon, no misleading cause`,
    );
  }
  const ok = pim('connect', url, '--user', 'alice@acme.example', '--root', root);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /connected to .* as alice@acme\.example[\s\S]*policy v1 verified/);
});

test('pim-server publish: --dry-run shows what changes for whom; a misspelt group or no roles stops the publish unless --force', () => {
  const { dir, repo } = setup();
  run(PIM_SERVER, ['init', repo]);
  const good = path.join(dir, 'good.yaml');
  const typo = path.join(dir, 'typo.yaml');
  const empty = path.join(dir, 'empty.yaml');
  const base = fs.readFileSync(path.join(ROOT, 'examples', 'policy.yaml'), 'utf8');
  fs.writeFileSync(good, base);
  fs.writeFileSync(empty, 'roles: []\n');
  assert.equal(run(PIM_SERVER, ['publish', repo, good]).code, 0);
  // the first role's eligible group, with its last two letters swapped
  const g = /eligible:\s+groups: \[([a-z-]+)/.exec(base)![1]!;
  const wrong = g.slice(0, -2) + g.slice(-1) + g.slice(-2, -1);
  fs.writeFileSync(typo, base.replace(/(eligible:\s+groups: \[)[a-z-]+/, `$1${wrong}`));

  const dry = run(PIM_SERVER, ['publish', repo, typo, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /changes:\n[\s\S]*loses eligibility for /);
  assert.match(
    dry.stderr,
    new RegExp(`warning: group "${wrong}" has no members \\(eligible for [^)]+\\): did you mean "${g}"\\?`),
  );
  assert.match(
    dry.stdout,
    /dry run: valid, with \d+ warning\(s\) that would stop a publish without --force; nothing was published/,
  );

  const stopped = run(PIM_SERVER, ['publish', repo, typo]);
  assert.equal(stopped.code, 1);
  assert.match(
    stopped.stderr,
    /not published: \d+ warning\(s\) above\. Fix the policy, or publish it as it is with --force/,
  );
  assert.match(
    run(PIM_SERVER, ['publish', repo, good, '--dry-run']).stdout,
    /changes: none/,
    'the typo was not published',
  );

  const none = run(PIM_SERVER, ['publish', repo, empty]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /warning: the policy has no roles/);
  const forced = run(PIM_SERVER, ['publish', repo, typo, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /published policy version 2/);
});

test('pim-server refuses to re-init a repository and to serve plain HTTP off loopback', () => {
  const { repo } = setup();
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  const again = run(PIM_SERVER, ['init', repo]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds a repository/);
  const remote = run(PIM_SERVER, ['serve', repo, '--listen', '0.0.0.0:0']);
  assert.equal(remote.code, 1);
  assert.match(remote.stderr, /refusing to serve plain HTTP/);
});

test('npm start with nothing configured runs the demo control plane and the web shell, twice in a row', async () => {
  const { home } = setup();
  for (const round of [1, 2]) {
    const app = await start(PIM, ['--home', home, 'start', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, {
      PIM_NO_ELECTRON: '1',
      PIM_KEYSTORE: 'file',
    });
    const { origin, token } = await webShellSession(app.match[1]!);
    assert.match(app.output(), /embedded demo control plane at http:\/\/localhost:\d+/);
    assert.match(app.output(), /Electron tray app cannot start here: PIM_NO_ELECTRON=1/);
    type State = {
      connection: string;
      roles: { name: string }[];
      user: { email: string };
      enrolled: boolean;
      enrolment: { state: string } | null;
    };
    const getState = async (): Promise<State> => {
      const r = await fetch(`${origin}/api/getState`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      return ((await r.json()) as { value: State }).value;
    };
    let state = await getState();
    for (let i = 0; i < 50 && state.connection !== 'online'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await getState();
    }
    assert.equal(state.connection, 'online', `round ${round}`);
    assert.equal(state.user.email, 'alice@acme.example');
    assert.ok(
      state.roles.some((r) => r.name === 'gpu-cluster-readonly'),
      `round ${round}`,
    );
    // the demo hands the agent an enrolment link: the UI opens on "register your security key"
    assert.equal(state.enrolled, false);
    assert.match(app.output(), /Demo enrolment link \(or run: pim enroll LINK\): http:\/\/localhost:\d+\/enrol#code=/);
    assert.equal(state.enrolment?.state, 'waiting', JSON.stringify(state.enrolment));
    await stop(app.child);
  }
  for (const f of ['agent.db', 'agent.db-wal']) {
    if (fs.existsSync(path.join(home, f))) assert.equal(fs.statSync(path.join(home, f)).mode & 0o777, 0o600, f);
  }
  // the demo's made-up clusters never go into the user's kubeconfig: terminals are pointed at its own
  const init = run(PIM, ['--home', home, 'shell-init', 'bash']);
  assert.equal(init.code, 0, init.stderr);
  assert.ok(
    init.stdout.includes(`export KUBECONFIG='${path.join(home, 'demo-user-home', '.kube', 'config')}';`),
    init.stdout.slice(0, 300),
  );
  assert.ok(init.stdout.includes(`export AWS_CONFIG_FILE='${path.join(home, 'demo-user-home', '.aws', 'config')}';`));
});
