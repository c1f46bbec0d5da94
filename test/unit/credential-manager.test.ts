// The credential manager's decisions, with a moving clock and a stand-in control plane: a kube
// token is renewed at two thirds of its life while the activation lives; an ended role's helper
// explains why for the grace period and then everything of ours goes, leaving the user's
// kubeconfig byte for byte; an extension takes the role's names over without a gap; entries of
// ours that nothing accounts for are removed; twenty roles at once leave one valid file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { parse } from 'yaml';
import type { ActivationView } from '../../shared/activation';
import type { ActivationState } from '../../shared/activation-state';
import type { IssuedCredentials } from '../../shared/credentials';
import { ControlPlaneError } from '../../agent/activation/cp-client';
import { CredentialManager } from '../../agent/credentials/manager';
import { addKubeEntries } from '../../agent/credentials/kubeconfig';
import { createDeviceKey, openKeystore } from '../../agent/keystore';
import { activationView } from '../helpers/activation-view';
import { newAgent } from '../helpers/agent';
import { USER_KUBECONFIG } from '../helpers/kube-api';
import { tmpDir } from '../helpers/repo';
import { awsProfileName, kubeContextName } from '../../shared/policy/names';

const USER = 'alice@acme.example';
const MIN = 60_000;
// near the real time: the sh helper reads the real clock
const T0 = Math.floor(Date.now() / MIN) * MIN;
const iso = (ms: number) => new Date(ms).toISOString();

async function setup() {
  const dir = tmpDir();
  let now = T0;
  const agent = newAgent(path.join(dir, 'pim-home'), () => new Date(now));
  const env = { PIM_KEYSTORE: 'file', KUBECONFIG: path.join(dir, 'kubeconfig') } as NodeJS.ProcessEnv;
  const key = await createDeviceKey(openKeystore(agent.home, env));
  agent.store.setConnection({ server: 'http://127.0.0.1:9', user: USER, unenrolled: false, demo: false });
  fs.writeFileSync(env.KUBECONFIG!, USER_KUBECONFIG, { mode: 0o600 });
  const issued: string[] = [];
  let refuse: string | null = null;
  const mgr = new CredentialManager(agent, {
    env,
    homedir: dir,
    graceMs: 10 * MIN,
    issue: async (id) => {
      if (refuse) throw new ControlPlaneError('not-active', refuse, 409);
      issued.push(id);
      const a = JSON.parse(
        agent.store.db.prepare('SELECT view_json FROM activations WHERE id = ?').pluck().get(id) as string,
      ) as ActivationView;
      const exp = new Date(Math.min(now + 15 * MIN, Date.parse(a.expiresAt!)));
      return {
        activation: id,
        role: a.role,
        user: USER,
        activationExpiresAt: a.expiresAt!,
        issuer: 'http://127.0.0.1:9',
        // role train-admin lives on cluster gpu: with role admin on gpu-train, the pair whose old names collided
        kube: [
          {
            cluster: a.role === 'train-admin' ? 'gpu' : 'gpu-train',
            server: 'https://127.0.0.1:6443',
            certificateAuthorityData: null,
            token: `token-${issued.length}`,
            expiresAt: exp.toISOString(),
          },
        ],
        aws: [],
        ssh: [],
      } satisfies IssuedCredentials;
    },
  });
  const save = (id: string, role: string, state: ActivationState, endsInMin: number, extendsId: string | null = null) =>
    agent.store.saveActivation(
      activationView({
        id,
        user: USER,
        role,
        state,
        request: {
          kind: extendsId ? 'extend' : 'activate',
          device: key.thumbprint,
          requestedAt: new Date(now).toISOString(),
          extends: extendsId,
        },
        createdAt: new Date(now).toISOString(),
        startsAt: new Date(now).toISOString(),
        expiresAt: new Date(now + endsInMin * MIN).toISOString(),
      }),
      new Date(now),
    );
  const helper = (name: string) =>
    spawnSync(path.join(agent.home, 'creds', 'bin', 'pim-cred'), ['kube', name], {
      encoding: 'utf8',
      env: { ...process.env, FAKETIME: '' },
    });
  return {
    agent,
    mgr,
    save,
    helper,
    issued,
    kubeconfig: env.KUBECONFIG!,
    at: (min: number) => (now = T0 + min * MIN),
    refuse: (why: string | null) => (refuse = why),
  };
}

test('a kube token is renewed at two thirds of its life, not before, while the activation lives', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 60);
  const r = await w.mgr.reconcile();
  assert.deepEqual(
    r.injected.map((i) => i.items.map((x) => x.name)),
    [['pim-gpu-train--gpu-admin']],
  );
  assert.deepEqual(w.issued, ['a1']);
  assert.equal(w.mgr.nextWakeAt()?.toISOString(), new Date(T0 + 10 * MIN).toISOString());
  w.at(9);
  await w.mgr.reconcile();
  assert.deepEqual(w.issued, ['a1'], 'not yet due');
  w.at(10);
  const again = await w.mgr.reconcile();
  assert.deepEqual(again.renewed, [{ role: 'gpu-admin', activation: 'a1' }]);
  assert.deepEqual(w.issued, ['a1', 'a1']);
  const cred = JSON.parse(
    fs.readFileSync(path.join(w.agent.home, 'creds', 'kube', 'pim-gpu-train--gpu-admin.json'), 'utf8'),
  ) as { status: { token: string; expirationTimestamp: string } };
  assert.equal(cred.status.token, 'token-2');
  assert.equal(cred.status.expirationTimestamp, iso(T0 + 25 * MIN).replace('.000Z', 'Z'));
});

test('a refused renewal (the role ended on the server) leaves the credential to its short life', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 60);
  await w.mgr.reconcile();
  w.at(11);
  w.refuse('role gpu-admin was revoked: incident');
  const r = await w.mgr.reconcile();
  assert.match(r.warnings.join('\n'), /was revoked: incident/);
  assert.deepEqual(w.issued, ['a1']);
});

test('deactivated: the helper explains for the grace period, then every entry goes and the kubeconfig is what the user had', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 60);
  await w.mgr.reconcile();
  assert.notEqual(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
  w.at(5);
  w.save('a1', 'gpu-admin', 'deactivated', 55);
  const r = await w.mgr.reconcile();
  assert.deepEqual(
    r.removed.map((x) => [x.role, x.reason]),
    [['gpu-admin', 'deactivated']],
  );
  const h = w.helper('pim-gpu-train--gpu-admin');
  assert.equal(h.status, 1);
  assert.equal(h.stdout, '');
  assert.equal(
    h.stderr.trim(),
    `pim: role gpu-admin was deactivated at ${iso(T0 + 5 * MIN)}; activate it again from PIM Agent (pim activate gpu-admin)`,
  );
  assert.match(fs.readFileSync(w.kubeconfig, 'utf8'), /pim-gpu-train--gpu-admin/, 'still there to explain itself');
  assert.equal(w.mgr.injected()[0]?.endedAt, new Date(T0 + 5 * MIN).toISOString());
  w.at(15);
  await w.mgr.reconcile();
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
  assert.deepEqual(fs.readdirSync(path.join(w.agent.home, 'creds', 'kube')), []);
  assert.deepEqual(w.mgr.injected(), []);
});

test('the start-up sweep removes at once what ended, with no grace', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 60);
  await w.mgr.reconcile();
  w.at(61);
  const r = await w.mgr.sweep();
  assert.deepEqual(
    r.removed.map((x) => [x.role, x.reason]),
    [['gpu-admin', 'expired']],
  );
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
  assert.deepEqual(w.issued, ['a1'], 'the sweep never calls the control plane');
});

test('an extension takes the role over without a gap: same names, the new end, no tombstone', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 30);
  await w.mgr.reconcile();
  w.at(20);
  w.save('a1', 'gpu-admin', 'deactivated', 10);
  w.save('a2', 'gpu-admin', 'active', 70, 'a1');
  const r = await w.mgr.reconcile();
  assert.deepEqual(r.removed, [], 'nothing was taken away');
  assert.deepEqual(
    r.injected.map((x) => x.activation),
    ['a2'],
  );
  assert.equal(w.helper('pim-gpu-train--gpu-admin').status, 0);
  assert.match(
    fs.readFileSync(path.join(w.agent.home, 'creds', 'kube', 'pim-gpu-train--gpu-admin.meta'), 'utf8'),
    new RegExp(`^${Math.floor((T0 + 90 * MIN) / 1000)} `),
  );
  assert.deepEqual(
    w.mgr.injected().map((v) => v.activation),
    ['a2'],
  );
});

test('an entry of ours that nothing accounts for (a crash between writing and recording) is removed', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 60);
  await w.mgr.reconcile();
  const withOurs = fs.readFileSync(w.kubeconfig, 'utf8');
  w.agent.store.db.prepare('DELETE FROM injections').run();
  w.agent.store.db.prepare("UPDATE activations SET state = 'expired'").run();
  const r = await w.mgr.reconcile();
  assert.deepEqual(
    r.removed.flatMap((x) => x.items.map((i) => i.name)),
    ['pim-gpu-train--gpu-admin'],
  );
  assert.notEqual(withOurs, USER_KUBECONFIG);
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
});

test('twenty roles injected and ended together leave one valid kubeconfig, then the original one', async () => {
  const w = await setup();
  for (let i = 0; i < 20; i++) w.save(`a${i}`, `role-${i}`, 'active', 60);
  const r = await w.mgr.reconcile();
  assert.equal(r.injected.length, 20);
  const doc = parse(fs.readFileSync(w.kubeconfig, 'utf8')) as {
    contexts: { name: string }[];
    users: { name: string }[];
    clusters: { name: string }[];
  };
  assert.equal(doc.contexts.length, 21);
  assert.equal(doc.users.length, 21);
  assert.equal(doc.clusters.length, 21);
  for (let i = 0; i < 20; i++) w.save(`a${i}`, `role-${i}`, 'deactivated', 60);
  await w.mgr.reconcile();
  w.at(11);
  await w.mgr.reconcile();
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
});

test('another device of the same user: its activations are not injected here', async () => {
  const w = await setup();
  w.save('a1', 'gpu-admin', 'active', 60);
  w.agent.store.db
    .prepare("UPDATE activations SET request_json = json_set(request_json, '$.device', ?)")
    .run('x'.repeat(43));
  const r = await w.mgr.reconcile();
  assert.deepEqual(r.injected, []);
  assert.deepEqual(w.issued, []);
});

test('session trail: lines from shells become shell-command records for a trailed role active at the time, then the spool is gone', async () => {
  const w = await setup();
  const journal = await w.agent.journal();
  w.save('a1', 'gpu-admin', 'active', 60);
  const thumbprint = (
    JSON.parse(w.agent.store.db.prepare('SELECT request_json FROM activations').pluck().get() as string) as {
      device: string;
    }
  ).device;
  journal.begin(thumbprint, USER, [
    { type: 'enrolled', data: { server: 'http://127.0.0.1:9', device: thumbprint, user: USER } },
  ]);
  // the policy says gpu-admin keeps a trail, other-role does not
  w.agent.role = ((name: string) => ({
    activation: { sessionTrail: name === 'gpu-admin' ? true : undefined },
  })) as never;
  await w.mgr.reconcile();
  assert.match(fs.readFileSync(path.join(w.agent.home, 'creds', 'trail'), 'utf8'), /^gpu-admin \d+\n$/);
  const t = Math.floor((T0 + MIN) / 1000);
  fs.writeFileSync(
    path.join(w.agent.home, 'creds', 'trail.spool'),
    `${t}\tgpu-admin\tb\tkubectl delete pod x\n${t}\tother-role\tb\tls\nnot a line\n${Math.floor((T0 + 3 * 60 * MIN) / 1000)}\tgpu-admin\tb\tafter the end\n`,
  );
  await w.mgr.reconcile();
  const trail = journal.list({ type: 'shell-command' });
  assert.deepEqual(
    trail.map((r) => [r.record.data.role, r.record.data.activation, r.record.data.command]),
    [['gpu-admin', 'a1', 'kubectl delete pod x']],
  );
  assert.equal(fs.existsSync(path.join(w.agent.home, 'creds', 'trail.spool')), false);
  assert.equal(fs.existsSync(path.join(w.agent.home, 'creds', 'trail.importing')), false);
});

test('entries of another PIM home sharing the kubeconfig are left alone', async () => {
  const w = await setup();
  const theirs = addKubeEntries(USER_KUBECONFIG, [
    {
      name: 'pim-prod-admin',
      cluster: 'prod',
      role: 'admin',
      server: 'https://prod.example.internal',
      certificateAuthorityData: null,
      command: '/home/other/.config/pim-agent/creds/bin/pim-cred',
      args: ['kube', 'pim-prod-admin'],
    },
  ]);
  fs.writeFileSync(w.kubeconfig, theirs);
  const r = await w.mgr.reconcile();
  assert.deepEqual(r.removed, []);
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), theirs);
});

test('unique names: an entry of ours named the old way (pim-<cluster>-<role>) is still recognised and swept', async () => {
  const w = await setup();
  const helperPath = path.join(w.agent.home, 'creds', 'bin', 'pim-cred');
  await w.mgr.reconcile(); // installs the helper
  const old = addKubeEntries(USER_KUBECONFIG, [
    {
      name: 'pim-gpu-train-gpu-admin',
      cluster: 'gpu-train',
      role: 'gpu-admin',
      server: 'https://127.0.0.1:6443',
      certificateAuthorityData: null,
      command: helperPath,
      args: ['kube', 'pim-gpu-train-gpu-admin'],
    },
  ]);
  fs.writeFileSync(w.kubeconfig, old);
  const r = await w.mgr.reconcile();
  assert.deepEqual(
    r.removed.flatMap((x) => x.items.map((i) => i.name)),
    ['pim-gpu-train-gpu-admin'],
  );
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG);
});

test('unique names: role train-admin on cluster gpu and role admin on cluster gpu-train get two kube contexts; ending one leaves the other working', async () => {
  const w = await setup();
  w.save('a1', 'admin', 'active', 60);
  w.save('a2', 'train-admin', 'active', 60);
  await w.mgr.reconcile();
  const contexts = () =>
    (parse(fs.readFileSync(w.kubeconfig, 'utf8')) as { contexts: { name: string }[] }).contexts
      .map((c) => c.name)
      .filter((n) => n.startsWith('pim-'));
  assert.deepEqual(contexts().sort(), ['pim-gpu--train-admin', 'pim-gpu-train--admin']);
  w.at(5);
  w.save('a2', 'train-admin', 'deactivated', 55);
  await w.mgr.reconcile();
  w.at(20); // past the grace period
  await w.mgr.reconcile();
  assert.deepEqual(contexts(), ['pim-gpu-train--admin']);
  assert.equal(w.helper('pim-gpu-train--admin').status, 0, 'the other role still has its credential');
  assert.notEqual(awsProfileName('ops', 0, 2), awsProfileName('ops-1', 0, 1));
  assert.throws(() => kubeContextName('gpu', 'a--b'), /must not contain '--'/);
});

test('connected to the embedded demo: credentials go under the demo home, never into the user kubeconfig, AWS config or ssh-agent', async () => {
  const w = await setup();
  const conn = w.agent.store.connection()!;
  w.agent.store.setConnection({ ...conn, demo: true });
  const { CredentialManager: Manager, demoTargets } = await import('../../agent/credentials/manager');
  // the user's real environment: their kubeconfig, an AWS config and an ssh-agent socket
  const userAws = path.join(path.dirname(w.kubeconfig), 'aws-config');
  fs.writeFileSync(userAws, '[default]\nregion = eu-central-1\n');
  const env = {
    PIM_KEYSTORE: 'file',
    KUBECONFIG: w.kubeconfig,
    AWS_CONFIG_FILE: userAws,
    SSH_AUTH_SOCK: path.join(path.dirname(w.kubeconfig), 'no-such.sock'),
  } as NodeJS.ProcessEnv;
  const issue = async (id: string): Promise<IssuedCredentials> => {
    const a = JSON.parse(
      w.agent.store.db.prepare('SELECT view_json FROM activations WHERE id = ?').pluck().get(id) as string,
    ) as ActivationView;
    return {
      activation: id,
      role: a.role,
      user: USER,
      activationExpiresAt: a.expiresAt!,
      issuer: 'http://127.0.0.1:9',
      kube: [
        {
          cluster: 'gpu-train',
          server: 'https://127.0.0.1:6443',
          certificateAuthorityData: null,
          token: 't',
          expiresAt: a.expiresAt!,
        },
      ],
      aws: [],
      ssh: [],
    };
  };
  const mgr = new Manager(w.agent, { env, issue });
  w.save('d1', 'gpu-admin', 'active', 60);
  const r = await mgr.reconcile();
  const demo = demoTargets(w.agent.home);
  assert.deepEqual(
    r.injected.map((i) => i.items.map((x) => x.where)),
    [[demo.KUBECONFIG]],
  );
  assert.equal(fs.readFileSync(w.kubeconfig, 'utf8'), USER_KUBECONFIG, "the user's kubeconfig is untouched");
  assert.equal(fs.readFileSync(userAws, 'utf8'), '[default]\nregion = eu-central-1\n');
  assert.ok(
    (parse(fs.readFileSync(demo.KUBECONFIG, 'utf8')) as { contexts: { name: string }[] }).contexts.some(
      (c) => c.name === 'pim-gpu-train--gpu-admin',
    ),
  );
  assert.ok(demo.KUBECONFIG.startsWith(w.agent.home), 'inside the agent home');
  const vars = mgr.envFor('gpu-admin')!;
  assert.ok(
    vars.KUBECONFIG!.split(path.delimiter).includes(demo.KUBECONFIG),
    '`pim env` points the terminal at the demo kubeconfig',
  );
  assert.ok(!vars.KUBECONFIG!.includes(w.kubeconfig));
});
