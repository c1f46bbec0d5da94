// Activations bound to the desktop session, through the BUILT main process (dist/electron-main.cjs
// under the Electron stand-in) with real credentials in a temporary HOME: when the machine suspends,
// a role whose policy says `onLock: deactivate` ends, its kubeconfig entries leave the user's
// kubeconfig and the credential helper they pointed at refuses; a role without it keeps working.
// (No ssh-agent: SSH_AUTH_SOCK points nowhere, as in the other credential tests.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { touch } from '../helpers/ceremony';
import { cliWorld } from '../helpers/cli-world';
import { item, quit, request, startMain } from '../helpers/electron-main';
import { until } from '../helpers/electron-stand-in';
import { USER_KUBECONFIG } from '../helpers/kube-api';
import { tmpDir } from '../helpers/repo';

const USER_HOME = tmpDir('pim-electron-home-');
const KUBECONFIG = path.join(USER_HOME, '.kube', 'config');
const AWS_CONFIG = path.join(USER_HOME, '.aws', 'config');
const USER_AWS_CONFIG = '[default]\nregion = eu-central-1\n';
fs.mkdirSync(path.dirname(KUBECONFIG), { recursive: true, mode: 0o700 });
fs.mkdirSync(path.dirname(AWS_CONFIG), { recursive: true, mode: 0o700 });
fs.writeFileSync(KUBECONFIG, USER_KUBECONFIG, { mode: 0o600 });
fs.writeFileSync(AWS_CONFIG, USER_AWS_CONFIG, { mode: 0o600 });

// the main process runs in this process: its credentials go to these files, none to an ssh-agent;
// an ended role's entries go at once (no grace period with a tombstone)
Object.assign(process.env, {
  PIM_KEYSTORE: 'file',
  HOME: USER_HOME,
  KUBECONFIG,
  AWS_CONFIG_FILE: AWS_CONFIG,
  PIM_TOMBSTONE_SECONDS: '0',
});
process.env.SSH_AUTH_SOCK = path.join(USER_HOME, 'no-ssh-agent.sock');
delete process.env.XDG_CONFIG_HOME;

const POLICY = `
roles:
  - name: prod-admin
    eligible: { groups: [eng] }
    activation: { maxDuration: 1h, justification: optional, onLock: deactivate }
    grants:
      kubernetes: [{ cluster: prod, groups: ['pim:prod-admin'] }]
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional }
    grants:
      kubernetes: [{ cluster: prod, groups: ['pim:readonly'] }]
clusters:
  - { name: prod, server: 'https://127.0.0.1:6443' }
users:
  - { email: alice@acme.example, groups: [eng] }
`;

interface KubeUser {
  name: string;
  user: { exec?: { command: string; args?: string[] } };
}

/** The exec credential helper the kubeconfig names for `context`, or null when the context is gone. */
function helperOf(context: string): { command: string; args: string[] } | null {
  const cfg = parseYaml(fs.readFileSync(KUBECONFIG, 'utf8')) as {
    contexts?: { name: string; context: { user: string } }[];
    users?: KubeUser[];
  };
  const ctx = cfg.contexts?.find((c) => c.name === context);
  if (!ctx) return null;
  const exec = cfg.users?.find((u) => u.name === ctx.context.user)?.user.exec;
  assert.ok(exec, `the user of ${context} runs an exec credential helper`);
  return { command: exec.command, args: exec.args ?? [] };
}

/** Runs the helper as kubectl does; kubectl reads the ExecCredential on stdout. */
function runHelper(h: { command: string; args: string[] }) {
  const r = spawnSync(h.command, h.args, { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the machine suspends: an onLock role ends, its kubeconfig entry goes and its helper refuses; other roles stay', async () => {
  const { people } = await cliWorld(POLICY, [['alice@acme.example', '']]);
  const alice = people['alice@acme.example']!;
  const s = await startMain(alice.home);
  await until('the verified policy in the menu', () => /^Policy v\d+$/.test(item(s, 'policy')?.label ?? ''));

  for (const role of ['prod-admin', 'readonly']) {
    assert.equal((await touch(alice.key, await request(s, role, 1800))).value?.state, 'active');
    await until(`${role} active in the menu`, () => item(s, `deactivate:${role}`));
  }
  // the credentials are in place: each context's helper hands kubectl a token
  const prod = await until('the prod-admin kube context', () => helperOf('pim-prod--prod-admin'));
  await until('the readonly kube context', () => helperOf('pim-prod--readonly'));
  const issued = runHelper(prod);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match((JSON.parse(issued.stdout) as { status: { token: string } }).status.token, /^ey/);

  // only the machine suspending — no screen lock
  s.powerMonitor.emit('suspend');
  await until('prod-admin ended on suspend', () => !item(s, 'deactivate:prod-admin'));
  await until('its kube context removed from the kubeconfig', () => helperOf('pim-prod--prod-admin') === null);
  const refused = runHelper(prod);
  assert.notEqual(refused.code, 0, 'the helper it pointed at gives no credential');
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /^pim: no active role provides pim-prod--prod-admin; activate one from PIM Agent/);

  // a role without onLock keeps its credentials; nothing else of the user's changed
  assert.ok(item(s, 'deactivate:readonly'), 'readonly stays active');
  const still = helperOf('pim-prod--readonly');
  assert.ok(still, 'the readonly context stays');
  assert.equal(runHelper(still).code, 0);
  const cfg = fs.readFileSync(KUBECONFIG, 'utf8');
  assert.match(cfg, /# my clusters — hand-edited, keep this comment/);
  assert.match(cfg, /^current-context: dev$/m);
  assert.equal(fs.readFileSync(AWS_CONFIG, 'utf8'), USER_AWS_CONFIG, 'no AWS grant: the AWS config is untouched');

  // the journal says why
  const db = new Database(path.join(alice.home, 'agent.db'), { readonly: true });
  try {
    const rows = db.prepare("SELECT record_json FROM audit WHERE type = 'activation-deactivated'").all() as {
      record_json: string;
    }[];
    const data = rows.map((r) => (JSON.parse(r.record_json) as { data: { role: string; reason?: string } }).data);
    assert.deepEqual(
      data.map((d) => [d.role, d.reason]),
      [['prod-admin', 'session-locked']],
    );
  } finally {
    db.close();
  }

  // Deactivate readonly from the menu before quitting: its entry goes the same way
  item(s, 'deactivate:readonly')!.click!();
  await until('the readonly context removed', () => helperOf('pim-prod--readonly') === null);
  assert.equal(
    fs.readFileSync(KUBECONFIG, 'utf8'),
    USER_KUBECONFIG,
    'the kubeconfig is byte for byte what the user had',
  );
  await quit(s);
});
