// The embedded demo's clusters are made up: its credentials must stay in the demo's own home for
// the whole demo, also after the demo user enrols a security key (review S2). The person's real
// ~/.kube/config (a temporary HOME here) must come out byte-for-byte untouched, and a later
// `pim start` must still run the demo.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { touch } from '../helpers/ceremony';
import { PIM, run, start, stop } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';
import { webShellSession } from '../helpers/browser';
import { SoftAuthenticator } from '../helpers/soft-authenticator';

const REAL_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- cluster: { server: 'https://real.example:6443' }
  name: real
contexts:
- context: { cluster: real, user: me }
  name: real
current-context: real
users:
- name: me
  user: { token: not-a-pim-token }
`;

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await get();
  // a condition, not a clock: generous for two busy cores
  for (let i = 0; i < 600 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await get();
  }
  assert.ok(ok(v), `${what}: ${JSON.stringify(v).slice(0, 400)}`);
  return v;
}

test('the demo enrolled and activated: the real ~/.kube/config stays untouched, the next pim start is still the demo', async () => {
  const dir = tmpDir();
  const home = path.join(dir, 'agent-home');
  const realHome = path.join(dir, 'home');
  fs.mkdirSync(path.join(realHome, '.kube'), { recursive: true });
  const realConfig = path.join(realHome, '.kube', 'config');
  fs.writeFileSync(realConfig, REAL_KUBECONFIG);
  // the person's environment, with nothing pointing elsewhere (undefined: not passed on)
  const env = {
    HOME: realHome,
    PIM_NO_ELECTRON: '1',
    PIM_KEYSTORE: 'file',
    KUBECONFIG: undefined,
    AWS_CONFIG_FILE: undefined,
    SSH_AUTH_SOCK: undefined,
  };

  const app = await start(PIM, ['--home', home, 'start', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, env);
  const { origin, token } = await webShellSession(app.match[1]!);
  type State = {
    enrolled: boolean;
    enrolment: { state: string; ceremonyUrl: string } | null;
    credentials: { role: string; items: { kind: string; where: string }[] }[];
  };
  const getState = async (): Promise<State> => {
    const r = await fetch(`${origin}/api/getState`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    return ((await r.json()) as { value: State }).value;
  };
  // the UI's enrolment: the person registers a key on the ceremony page it shows
  const waiting = await until('the demo offers enrolment', getState, (s) => s.enrolment?.state === 'waiting');
  const key = new SoftAuthenticator({ name: 'alice@acme.example' });
  assert.equal((await touch(key, waiting.enrolment!.ceremonyUrl)).ok, true);
  await until('enrolment completes', getState, (s) => s.enrolled);

  const status = JSON.parse(run(PIM, ['--home', home, 'status', '--json'], env).stdout) as {
    demo?: boolean;
    unenrolled: boolean;
  };
  assert.equal(status.unenrolled, false);

  // a separate `pim activate` process, as in a terminal
  const act = await start(
    PIM,
    ['--home', home, 'activate', 'gpu-cluster-readonly', '--duration', '1h', '--no-open'],
    /sign this request: (\S+)/,
    env,
  );
  assert.equal((await touch(key, act.match[1]!)).value?.state, 'active');
  assert.equal(await act.exited(), 0, act.output());
  const creds = JSON.parse(run(PIM, ['--home', home, 'credentials', '--json'], env).stdout) as unknown;
  const demoKubeconfig = path.join(home, 'demo-user-home', '.kube', 'config');
  assert.match(JSON.stringify(creds), /demo-user-home/, 'the credentials went to the demo home');
  // the tray process too (its scheduler reconciles after the activation)
  await until('the running app injected into the demo home', getState, (s) =>
    s.credentials.some((c) => c.items.some((i) => i.kind === 'kube' && i.where === demoKubeconfig)),
  );
  assert.match(fs.readFileSync(demoKubeconfig, 'utf8'), /pim-gpu-train--gpu-cluster-readonly/);
  assert.equal(fs.readFileSync(realConfig, 'utf8'), REAL_KUBECONFIG, 'the real kubeconfig is untouched');
  assert.deepEqual(fs.readdirSync(realHome).sort(), ['.kube'], 'no ~/.aws or anything else appeared');
  await stop(app.child);

  // the enrolled demo is still the demo: the next start serves it again
  const again = await start(PIM, ['--home', home, 'start', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, env);
  assert.match(again.output(), /embedded demo control plane at http:\/\/localhost:\d+/);
  assert.doesNotMatch(again.output(), /using the configured control plane/);
  await stop(again.child);
  assert.equal(fs.readFileSync(realConfig, 'utf8'), REAL_KUBECONFIG);
});
