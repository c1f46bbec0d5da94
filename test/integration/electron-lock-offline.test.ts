// The screen locks while the control plane cannot be reached (review S3): the BUILT Electron main
// process, under the stand-in, must still end the `onLock: deactivate` role at once — decided from
// agent.db, its kube credential answering "deactivated" to kubectl, journaled with the reason — and
// tell the control plane once it is back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { touch } from '../helpers/ceremony';
import { cliWorld } from '../helpers/cli-world';
import { createStandIn, flatMenu, loadMain, until, type StandIn } from '../helpers/electron-stand-in';
import { PIM_SERVER, start, stop } from '../helpers/procs';
import { ROOT, tmpDir } from '../helpers/repo';

const MAIN = path.join(ROOT, 'dist', 'electron-main.cjs');
const TRUSTED = { senderFrame: { url: 'app://pim/index.html' } };

// the agent uses the file keystore; its kubeconfig is this HOME's, no ssh-agent
process.env.PIM_KEYSTORE = 'file';
const HOME = tmpDir('pim-lock-home-');
process.env.HOME = HOME;
delete process.env.XDG_CONFIG_HOME;
delete process.env.KUBECONFIG;
delete process.env.SSH_AUTH_SOCK;

const POLICY = `
clusters:
  - { name: prod, server: 'https://k8s.prod.example:6443' }
roles:
  - name: prod-admin
    eligible: { groups: [eng] }
    activation: { maxDuration: 1h, justification: optional, onLock: deactivate }
    grants:
      kubernetes: [{ cluster: prod, groups: ['pim:prod-admin'] }]
users:
  - { email: alice@acme.example, groups: [eng] }
`;

function item(s: StandIn, id: string) {
  return flatMenu(s.trays[0]!.menu).find((i) => i.id === id);
}

async function call(s: StandIn, method: string, input: unknown) {
  const h = s.ipc.get(`pim:${method}`);
  assert.ok(h, `a handler for ${method}`);
  return (await h(TRUSTED, input)) as { ok: boolean; value?: never; error?: { code: string; message: string } };
}

/** What kubectl runs for the role's kubeconfig user: the exec plugin the agent wrote. */
function execPlugin(kubeconfig: string): { command: string; args: string[] } {
  const text = fs.readFileSync(kubeconfig, 'utf8');
  const command = /command: (\S+)/.exec(text)?.[1];
  const name = /- kube\n\s+- (\S+)/.exec(text)?.[1];
  assert.ok(command && name, text);
  return { command, args: ['kube', name] };
}

test('screen lock with the control plane unreachable: the onLock role ends locally at once, the server hears later', async () => {
  const { repo, server, people } = await cliWorld(POLICY, [['alice@acme.example', '']]);
  const alice = people['alice@acme.example']!;
  const url = server.match[1]!.replace(/\/$/, '');
  process.env.PIM_HOME = alice.home;
  const s = createStandIn(ROOT);
  loadMain(MAIN, s);
  await until('the tray and its first menu', () => s.trays[0]?.menu);
  await until('the verified policy in the menu', () => /^Policy v\d+$/.test(item(s, 'policy')?.label ?? ''));

  const req = await call(s, 'activate', { role: 'prod-admin', duration: 1800 });
  assert.equal(req.ok, true, JSON.stringify(req.error));
  assert.equal(
    (await touch(alice.key, (req.value as unknown as { ceremonyUrl: string }).ceremonyUrl)).value?.state,
    'active',
  );
  await until('prod-admin active in the menu', () => item(s, 'deactivate:prod-admin'));
  const kubeconfig = path.join(HOME, '.kube', 'config');
  await until(
    'the kube credential injected',
    () => fs.existsSync(kubeconfig) && /pim-prod--prod-admin/.test(fs.readFileSync(kubeconfig, 'utf8')),
  );
  const plugin = execPlugin(kubeconfig);
  const before = spawnSync(plugin.command, plugin.args, { encoding: 'utf8' });
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stdout, /"kind":\s*"ExecCredential"/);

  // the control plane goes away (suspend, train, VPN down); then the screen locks
  await stop(server.child);
  s.powerMonitor.emit('lock-screen');
  await until('prod-admin ended on lock, offline', () => !item(s, 'deactivate:prod-admin'));
  // what kubectl meets: the credential is gone, with the reason in words
  await until(
    'the kube credential ended',
    () => spawnSync(plugin.command, plugin.args, { encoding: 'utf8' }).status !== 0,
  );
  const after = spawnSync(plugin.command, plugin.args, { encoding: 'utf8' });
  assert.match(after.stderr, /prod-admin was deactivated/);
  assert.doesNotMatch(after.stdout, /ExecCredential/);

  const db = new Database(path.join(alice.home, 'agent.db'), { readonly: true });
  let id: string;
  try {
    const rows = db.prepare("SELECT record_json FROM audit WHERE type = 'activation-deactivated'").all() as {
      record_json: string;
    }[];
    const data = rows.map(
      (r) => (JSON.parse(r.record_json) as { data: { activation: string; role: string; reason?: string } }).data,
    );
    assert.deepEqual(
      data.map((d) => [d.role, d.reason]),
      [['prod-admin', 'session-locked']],
    );
    id = data[0]!.activation;
    const pending = db.prepare("SELECT value FROM meta WHERE key = 'pending_deactivations'").get() as
      { value: string } | undefined;
    assert.deepEqual(JSON.parse(pending?.value ?? '[]'), [id], 'queued for the control plane');
  } finally {
    db.close();
  }

  // the control plane is back (same address): the agent tells it, and its view stays ended
  const port = new URL(url).port;
  const again = await start(
    PIM_SERVER,
    ['serve', repo, '--listen', `127.0.0.1:${port}`],
    /people open (http:\/\/\S+)\)/,
  );
  // a UI refresh asks now (the tracker's own schedule would within a minute)
  let told = false;
  for (let i = 0; i < 300 && !told; i++) {
    const r = await call(s, 'listActivations', {});
    told =
      r.ok && (r.value as unknown as { id: string; state: string }[]).find((x) => x.id === id)?.state === 'deactivated';
    if (!told) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(told, 'the control plane holds the activation as deactivated');
  const db2 = new Database(path.join(alice.home, 'agent.db'), { readonly: true });
  try {
    assert.equal(
      db2.prepare("SELECT value FROM meta WHERE key = 'pending_deactivations'").get(),
      undefined,
      'nothing left to tell',
    );
    assert.equal(
      (db2.prepare("SELECT count(*) AS n FROM audit WHERE type = 'activation-deactivated'").get() as { n: number }).n,
      1,
      'journaled once',
    );
  } finally {
    db2.close();
  }
  assert.equal(item(s, 'deactivate:prod-admin'), undefined, 'not brought back by the server view');
  item(s, 'quit')!.click!();
  await until('the app to quit', () => s.app.quitCount === 1);
  await stop(again.child);
});
