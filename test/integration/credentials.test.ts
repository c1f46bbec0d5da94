// Credentials as a person meets them, with real clients in a temporary HOME: activate a role and
// `kubectl get pods`, `aws sts get-caller-identity --profile pim-<role>` and `ssh` simply work;
// when the role ends — deactivated, expired, revoked, or with the agent killed in between — each
// of them stops with a sentence that says why, and nothing of ours is left in the kubeconfig, the
// AWS config, the credential folder or the ssh-agent.
//
// The world: a real `pim-server serve` (issuer, SSH CA), a small HTTPS Kubernetes API that checks
// the bearer JWT against the control plane's JWKS, moto_server for STS, a real ssh-agent and a
// real sshd trusting the control plane's SSH CA.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'vitest';
import { after } from '../helpers/cleanup';
import { step } from '../helpers/step';
import { touch } from '../helpers/ceremony';
import { startKubeApi, USER_KUBECONFIG } from '../helpers/kube-api';
import { startMoto } from '../helpers/moto';
import { exitOf, PIM, PIM_SERVER, run, start, stop } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';
import { currentUser, sshRun, startSshAgent, startSshd } from '../helpers/ssh';
import { SoftAuthenticator } from '../helpers/soft-authenticator';
import { findProgram, requireProgram } from '../helpers/system';

const ROLE = 'gpu-admin';
const CONTEXT = `pim-gpu-train--${ROLE}`;
const PROFILE = `pim-${ROLE}`;

const USER_AWS_CONFIG = `[default]
region = eu-central-1
# my own profile
[profile sandbox]
region = us-east-1
output = json`;

function policy(o: { kube: string; caData: string; moto: string }): string {
  return `
roles:
  - name: ${ROLE}
    description: Admin on the GPU training cluster
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, defaultDuration: 1h, justification: optional }
    grants:
      kubernetes: [{ cluster: gpu-train, groups: ['pim:${ROLE}'] }]
      aws: [{ roleArn: 'arn:aws:iam::123456789012:role/ml-admin', stsEndpoint: '${o.moto}', region: eu-central-1 }]
      ssh: [{ principals: [ops], hosts: ['127.0.0.1'] }]
  - name: intruder
    eligible: { groups: [ml] }
    activation: { maxDuration: 1h, justification: optional }
    grants:
      ssh: [{ principals: [someone-else], hosts: ['127.0.0.1'] }]
clusters:
  - { name: gpu-train, server: '${o.kube}', certificateAuthorityData: '${o.caData}' }
users:
  - { email: alice@acme.example, groups: [ml] }
`;
}

interface World {
  dir: string;
  repo: string;
  server: string;
  home: string;
  userHome: string;
  env: NodeJS.ProcessEnv;
  key: SoftAuthenticator;
  moto: string;
  kubeconfig: string;
  awsConfig: string;
  sock: string;
  sshd: { port: number; user: string };
  pim: (...a: string[]) => ReturnType<typeof run>;
}

async function setup(t: TestContext): Promise<World | null> {
  for (const [p, why] of [
    ['kubectl', 'kubectl must list pods through the injected context'],
    ['aws', 'the AWS CLI must use the injected profile'],
    ['moto_server', 'STS is played by moto_server'],
    ['ssh-agent', 'SSH certificates go into a real ssh-agent'],
    ['ssh', 'ssh must log in with the injected certificate'],
    ['openssl', 'the test Kubernetes API needs a TLS certificate'],
  ] as const) {
    if (!requireProgram(t, p, why)) return null;
  }
  const dir = tmpDir('pim-creds-');
  const repo = path.join(dir, 'repo');
  const userHome = path.join(dir, 'home');
  fs.mkdirSync(path.join(userHome, '.kube'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(userHome, '.aws'), { recursive: true, mode: 0o700 });
  const kubeconfig = path.join(userHome, '.kube', 'config');
  const awsConfig = path.join(userHome, '.aws', 'config');
  fs.writeFileSync(kubeconfig, USER_KUBECONFIG, { mode: 0o600 });
  fs.writeFileSync(awsConfig, USER_AWS_CONFIG, { mode: 0o644 });

  // the control plane first (its JWKS and SSH CA), then the clients that trust it
  fs.writeFileSync(path.join(dir, 'policy.yaml'), 'roles: []\n');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  // an empty policy on purpose (the real one needs the servers started below): --force
  assert.equal(run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']).code, 0);
  const served = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /people open (http:\/\/\S+)\)/);
  after(() => stop(served.child));
  const server = served.match[1]!.replace(/\/$/, '');

  const kube = await startKubeApi(t, {
    jwksUrl: `${server}/.well-known/jwks.json`,
    issuer: server.replace('127.0.0.1', 'localhost'),
    audience: 'gpu-train',
    groups: [`pim:${ROLE}`],
    podName: 'gpu-worker-0',
  });
  if (!kube) return null;
  after(() => kube.stop());
  const moto = await startMoto(t);
  if (!moto) return null;
  after(() => moto.stop());
  const agentSsh = await startSshAgent(dir);
  after(() => agentSsh.stop());
  const caPub = await (await fetch(`${server}/ssh-ca.pub`)).text();
  const sshd = await startSshd(t, { caPublicKey: caPub.trim(), principalsFor: { [currentUser()]: ['ops'] } });
  if (!sshd) return null;
  after(() => sshd.stop());

  fs.writeFileSync(path.join(dir, 'policy.yaml'), policy({ kube: kube.url, caData: kube.caData, moto: moto.url }));
  const pub = run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml')]);
  assert.equal(pub.code, 0, pub.stderr);

  const home = path.join(dir, 'pim-home');
  const env: NodeJS.ProcessEnv = {
    PIM_KEYSTORE: 'file',
    HOME: userHome,
    KUBECONFIG: kubeconfig,
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: path.join(userHome, '.aws', 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    SSH_AUTH_SOCK: agentSsh.sock,
    PIM_TOMBSTONE_SECONDS: '600',
  };
  const add = run(PIM_SERVER, ['user', 'add', repo, 'alice@acme.example']);
  assert.equal(add.code, 0, add.stderr);
  const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
  const key = new SoftAuthenticator({ name: 'alice' });
  const enrol = await start(
    PIM,
    ['--home', home, 'enroll', link, '--no-open'],
    /Register your security key: (\S+)/,
    env,
  );
  assert.equal((await touch(key, enrol.match[1]!)).ok, true);
  assert.equal(await enrol.exited(), 0, enrol.output());
  return {
    dir,
    repo,
    server,
    home,
    userHome,
    env,
    key,
    moto: moto.url,
    kubeconfig,
    awsConfig,
    sock: agentSsh.sock,
    sshd: { port: sshd.port, user: sshd.user },
    pim: (...a: string[]) => run(PIM, ['--home', home, ...a], env),
  };
}

/** Activates `role` through the CLI with a key touch; returns the CLI's output. */
async function activate(w: World, role: string, duration: string): Promise<string> {
  const act = await start(
    PIM,
    ['--home', w.home, 'activate', role, '--duration', duration, '--no-open'],
    /sign this request: (\S+)/,
    w.env,
  );
  assert.equal((await touch(w.key, act.match[1]!)).value?.state, 'active');
  assert.equal(await act.exited(), 0, act.output());
  return act.output();
}

/** The test's environment over ours, with no AWS credentials or profile of the machine's leaking in. */
function cleanEnv(over: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_DEFAULT_PROFILE',
  ])
    delete env[k];
  return { ...env, ...over };
}

/** A client program, run asynchronously: the Kubernetes API stand-in lives in this process. */
function client(
  w: World,
  cmd: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: cleanEnv({ ...w.env, ...extraEnv }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const kubectl = (w: World, ...extra: string[]) =>
  client(w, 'kubectl', ['--context', CONTEXT, '--cache-dir', path.join(w.dir, 'kube-cache'), 'get', 'pods', ...extra]);
const awsWho = (w: World, profile = PROFILE) =>
  client(w, 'aws', ['sts', 'get-caller-identity', '--profile', profile, '--endpoint-url', w.moto, '--output', 'json']);
const sshAddList = (w: World) => {
  const r = spawnSync('ssh-add', ['-l'], { encoding: 'utf8', env: { ...process.env, ...w.env } });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};
const ssh = (w: World) => sshRun(w.sshd.port, w.sshd.user, w.sock, 'echo logged-in-with-pim');

function oursLeft(w: World): string[] {
  const left: string[] = [];
  if (fs.readFileSync(w.kubeconfig, 'utf8').includes('pim-')) left.push('kubeconfig entries');
  if (fs.existsSync(w.awsConfig) && fs.readFileSync(w.awsConfig, 'utf8').includes('pim-')) left.push('AWS profile');
  for (const kind of ['kube', 'aws']) {
    const d = path.join(w.home, 'creds', kind);
    if (fs.existsSync(d) && fs.readdirSync(d).length > 0)
      left.push(`${kind} credential files: ${fs.readdirSync(d).join(', ')}`);
  }
  const ssh = path.join(w.home, 'creds', 'ssh');
  if (fs.existsSync(ssh) && fs.readdirSync(ssh).length > 0) left.push('ssh key seeds');
  if (/pim:/.test(sshAddList(w).stdout)) left.push('ssh-agent identity');
  return left;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 40_000,
  explain?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `\n${explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// one world for all the steps: the servers, the user's files and the agent's home live as long as
// this test (temporary folders and processes are cleaned up after it)
test('credentials for an active role, with real kubectl, aws and ssh', async (t) => {
  const w = await setup(t);
  if (!w) return;

  await step(
    'activated: kubectl lists pods, aws is the assumed role, ssh logs in; deactivated: each says why, then nothing is left',
    async () => {
      const out = await activate(w, ROLE, '1h');
      assert.match(out, new RegExp(`kube context ${CONTEXT}`));
      assert.match(out, new RegExp(`AWS profile ${PROFILE}`));
      assert.match(out, /SSH certificate pim:gpu-admin:/);

      const pods = await kubectl(w);
      assert.equal(pods.code, 0, pods.stderr);
      assert.match(pods.stdout, /gpu-worker-0/);
      assert.equal(readCurrentContext(w), 'dev', 'current-context is left as the user had it');

      const who = await awsWho(w);
      assert.equal(who.code, 0, who.stderr);
      assert.match(
        (JSON.parse(who.stdout) as { Arn: string }).Arn,
        /^arn:aws:sts::123456789012:assumed-role\/ml-admin\//,
      );

      assert.match(sshAddList(w).stdout, /pim:gpu-admin:.*\(ED25519-CERT\)/);
      const login = await ssh(w);
      assert.equal(login.status, 0, login.stderr);
      assert.match(login.stdout, /logged-in-with-pim/);

      // one command with the role's environment, and the exports for a whole shell
      const exec = await client(w, process.execPath, [
        PIM,
        '--home',
        w.home,
        'exec',
        ROLE,
        '--',
        'kubectl',
        '--cache-dir',
        path.join(w.dir, 'kube-cache'),
        'get',
        'pods',
      ]);
      assert.equal(exec.code, 0, exec.stderr);
      assert.match(exec.stdout, /gpu-worker-0/);
      const exports = w.pim('env', ROLE);
      assert.equal(exports.code, 0, exports.stderr);
      assert.match(exports.stdout, new RegExp(`export AWS_PROFILE='${PROFILE}';`));
      const viaEnv = await client(w, 'sh', [
        '-c',
        `eval "$(node ${PIM} --home '${w.home}' env ${ROLE})" && aws sts get-caller-identity --endpoint-url ${w.moto} --output text --query Arn`,
      ]);
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      assert.match(viaEnv.stdout, /assumed-role\/ml-admin/);

      const off = w.pim('deactivate', ROLE);
      assert.equal(off.code, 0, off.stderr);
      // what really happens: the context stays for its grace period, answering why, then goes
      assert.match(
        off.stdout,
        new RegExp(
          `kube context ${CONTEXT} \\(in \\S+\\) no longer works \\(deactivated\\): its commands now say why; the entry itself is removed at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC`,
        ),
      );
      assert.match(off.stdout, /SSH certificate \S+ \(in the ssh-agent\) removed \(deactivated\)/);
      assert.doesNotMatch(off.stdout, /kube context \S+ \(in \S+\) removed/, 'not claimed removed while it stays');
      const k = await kubectl(w);
      assert.notEqual(k.code, 0);
      assert.match(k.stderr, /role gpu-admin was deactivated at .*; activate it again from PIM Agent/);
      const a = await awsWho(w);
      assert.notEqual(a.code, 0);
      assert.match(a.stderr, /role gpu-admin was deactivated/);
      assert.doesNotMatch(sshAddList(w).stdout, /pim:/, 'the identity left the ssh-agent');
      assert.notEqual((await ssh(w)).status, 0, 'ssh no longer logs in');
      assert.equal(w.pim('env', ROLE).code, 5, 'no environment for an ended role');

      // the explanations stay a few minutes (PIM_TOMBSTONE_SECONDS); a sweep takes everything
      const sweep = w.pim('credentials', 'sweep');
      assert.equal(sweep.code, 0, sweep.stderr);
      assert.deepEqual(oursLeft(w), []);
      assert.equal(
        fs.readFileSync(w.kubeconfig, 'utf8'),
        USER_KUBECONFIG,
        'the kubeconfig is byte for byte what the user had',
      );
      assert.equal(
        fs.readFileSync(w.awsConfig, 'utf8'),
        USER_AWS_CONFIG,
        'the AWS config is byte for byte what the user had',
      );
    },
  );

  await step('a certificate for another principal does not log in', async () => {
    await activate(w, 'intruder', '10m');
    assert.match(sshAddList(w).stdout, /pim:intruder:/);
    const login = await ssh(w);
    assert.notEqual(login.status, 0, 'sshd refuses a certificate whose principals are not allowed for the user');
    assert.equal(w.pim('deactivate', 'intruder').code, 0);
    assert.doesNotMatch(sshAddList(w).stdout, /pim:/);
  });

  await step(
    'no ssh-agent when the role becomes active: the output, pim credentials and the journal say so; the certificate is added once one answers',
    async () => {
      const noAgent = { ...w.env, SSH_AUTH_SOCK: '' };
      const act = await start(
        PIM,
        ['--home', w.home, 'activate', 'intruder', '--duration', '10m', '--no-open'],
        /sign this request: (\S+)/,
        noAgent,
      );
      assert.equal((await touch(w.key, act.match[1]!)).value?.state, 'active');
      assert.equal(await act.exited(), 0, act.output());
      assert.match(act.output(), /intruder: SSH certificate not added: No ssh-agent is running/);
      assert.doesNotMatch(sshAddList(w).stdout, /pim:intruder:/);

      const listed = run(PIM, ['--home', w.home, 'credentials'], noAgent);
      assert.match(
        listed.stdout,
        /ssh\s+pim:intruder:\S+\s+NOT ADDED: No ssh-agent is running .*the certificate is added while the role is active/,
      );
      const views = JSON.parse(run(PIM, ['--home', w.home, 'credentials', '--json'], noAgent).stdout) as {
        role: string;
        items: { kind: string; problem?: string }[];
      }[];
      assert.match(views.find((v) => v.role === 'intruder')!.items[0]!.problem ?? '', /No ssh-agent is running/);
      const records = JSON.parse(
        w.pim('audit', 'list', '--json', '--type', 'credentials-injected', '--role', 'intruder').stdout,
      ) as { record: { data: { notAdded?: { problem: string }[] } } }[];
      assert.ok(
        records.some((r) => /No ssh-agent/.test(r.record.data.notAdded?.[0]?.problem ?? '')),
        'journaled with why',
      );

      // from a shell that has an ssh-agent: the certificate goes in, for the rest of the window
      const later = w.pim('credentials');
      assert.equal(later.code, 0, later.stderr);
      assert.match(later.stderr, /intruder: SSH certificate pim:intruder:\S+ \(in the ssh-agent\) ready/);
      assert.match(sshAddList(w).stdout, /pim:intruder:.*\(ED25519-CERT\)/);
      assert.doesNotMatch(later.stdout, /NOT ADDED/);
      assert.equal(w.pim('deactivate', 'intruder').code, 0);
      assert.doesNotMatch(sshAddList(w).stdout, /pim:/);
    },
  );

  await step(
    'expired: with no agent running, kubectl and aws are told the role expired; the ssh-agent drops the identity itself',
    async () => {
      await activate(w, ROLE, '12s');
      assert.equal((await kubectl(w)).code, 0);
      await until('the role to expire', async () => /expired at/.test((await kubectl(w)).stderr));
      const k = await kubectl(w);
      assert.notEqual(k.code, 0);
      assert.equal(k.stdout, '');
      assert.match(
        k.stderr,
        /role gpu-admin expired at .*; activate it again from PIM Agent \(pim activate gpu-admin\)/,
      );
      const a = await awsWho(w);
      assert.notEqual(a.code, 0);
      assert.match(a.stderr, /role gpu-admin expired at/);
      await until('the ssh-agent to drop the expired identity', () => !/pim:/.test(sshAddList(w).stdout), 10_000);
      assert.equal(w.pim('credentials', 'sweep').code, 0);
      assert.deepEqual(oursLeft(w), []);
    },
  );

  await step('revoked on the server: a running agent takes the credentials away within 30 s', async () => {
    const agent = await start(PIM, ['--home', w.home, 'agent'], /agent running/, {
      ...w.env,
      PIM_REVOCATION_POLL_MS: '1000',
    });
    after(() => stop(agent.child));
    await activate(w, ROLE, '1h');
    assert.equal((await kubectl(w)).code, 0);
    const id = (
      JSON.parse(w.pim('activations', '--json').stdout) as { id: string; role: string; state: string }[]
    ).find((a) => a.role === ROLE && a.state === 'active')!.id;
    const revoke = run(PIM_SERVER, ['activation', 'revoke', w.repo, id, '--reason', 'incident response']);
    assert.equal(revoke.code, 0, revoke.stderr);
    const t0 = Date.now();
    await until(
      'the agent to apply the revocation',
      async () => /revoked/.test((await kubectl(w)).stderr),
      30_000,
      () => `${agent.output()}\n${w.pim('activations').stdout}\n${w.pim('credentials').stdout}`,
    );
    assert.ok(Date.now() - t0 < 30_000);
    assert.match((await kubectl(w)).stderr, /role gpu-admin was revoked at .* \(incident response\)/);
    assert.match((await awsWho(w)).stderr, /revoked/);
    assert.doesNotMatch(sshAddList(w).stdout, /pim:/);
    await stop(agent.child);
    assert.equal(w.pim('credentials', 'sweep').code, 0);
    assert.deepEqual(oursLeft(w), []);
  });

  await step(
    'crash: the agent is killed while the role is active, the clock passes the end, and the start-up sweep leaves nothing',
    async (t) => {
      const faketime = requireProgram(t, 'faketime', 'the crash test moves the clock past the activation');
      if (!faketime) return;
      const agent = await start(PIM, ['--home', w.home, 'agent'], /agent running/, w.env);
      await activate(w, ROLE, '1h');
      await until(
        'the credentials to be in place',
        async () => (await kubectl(w)).code === 0 && /pim:gpu-admin:/.test(sshAddList(w).stdout),
      );
      agent.child.kill('SIGKILL');
      await exitOf(agent.child);
      assert.notDeepEqual(oursLeft(w), [], 'the kill left credentials behind');

      // two hours later, the agent starts again
      // faketime runs the agent as its child: signals go to the whole process group
      const later = spawn(faketime, ['-f', '+2h', process.execPath, PIM, '--home', w.home, 'agent'], {
        env: { ...process.env, ...w.env },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-later.pid!, s);
        } catch {
          /* gone */
        }
      };
      after(() => signal('SIGKILL'));
      let log = '';
      later.stderr.on('data', (d) => (log += d));
      await until('the restarted agent to be running', () => /agent running/.test(log), 20_000);
      await new Promise<void>((resolve) => {
        later.once('exit', () => resolve());
        signal('SIGTERM');
      });
      assert.deepEqual(oursLeft(w), [], `after the sweep; agent log:\n${log}`);
      assert.match(log, /removed/);
      assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
      assert.equal(fs.readFileSync(w.awsConfig, 'utf8'), USER_AWS_CONFIG);
    },
  );
});

function readCurrentContext(w: World): string {
  return /^current-context: (.*)$/m.exec(fs.readFileSync(w.kubeconfig, 'utf8'))?.[1] ?? '';
}

void findProgram;
