// The kube credential command as kubectl runs it, against its peer `aws eks get-token`, and a real
// `kubectl get pods` through our exec plugin against the same kubeconfig with a static token.
// Goals: plugin p50 ≤ 10 ms and ≤ 1/30 of `aws eks get-token`; kubectl with the plugin ≤ 1.2× the
// static token. Every command is started the same way (spawnSync from here), in the same run.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCredHelper, kubeExecCredential, writeCredential } from '../agent/credentials/cred-helper';
import { addKubeEntries } from '../agent/credentials/kubeconfig';
import { startKubeApi } from '../test/helpers/kube-api';
import { median, ms, quantile } from './_stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const AWS_RUNS = Number(process.env.BENCH_AWS_RUNS ?? 8);

function timeRuns(
  n: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { times: number[]; last: ReturnType<typeof spawnSync> } {
  const times: number[] = [];
  let last!: ReturnType<typeof spawnSync>;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    last = spawnSync(cmd, args, { env, encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (last.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${String(last.stderr).slice(0, 500)}`);
  }
  return { times, last };
}

/** kubectl talks to the API stand-in in this process: its runs must not block our event loop */
async function timeAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) =>
    execFile(cmd, args, { env, encoding: 'utf8' }, (err, _out, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${String(stderr).slice(0, 500)}`)) : resolve(),
    ),
  );
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-bench-exec-'));
  const creds = path.join(dir, 'creds');
  const helper = installCredHelper(creds);
  const end = new Date(Date.now() + 3600_000);
  // the plugin hands kubectl the same bearer the static kubeconfig has: the API server's work is
  // identical, so the difference is the exec plugin alone
  const token = 'static-bench-token';
  writeCredential(creds, 'kube', 'pim-demo-bench', kubeExecCredential(token, end), {
    role: 'bench',
    activationEnd: end,
    credentialExpires: end,
  });
  // what kubectl sets for a v1 exec plugin
  const execEnv = {
    ...process.env,
    KUBERNETES_EXEC_INFO: JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    }),
  };

  console.log(`exec-plugin bench: ${RUNS} runs each (aws eks get-token: ${AWS_RUNS}); medians on a noisy machine`);
  const ours = timeRuns(RUNS, helper, ['kube', 'pim-demo-bench'], execEnv);
  const p50 = median(ours.times);
  console.log(
    `  pim kube credential (sh helper):  p50 ${ms(p50)}  p95 ${ms(quantile(ours.times, 0.95))}  (goal p50 ≤ 10 ms: ${p50 <= 10 ? 'met' : 'NOT met'})`,
  );

  if (has('aws')) {
    const awsEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_DEFAULT_REGION: 'eu-central-1',
      AWS_CONFIG_FILE: path.join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'),
      HOME: dir,
    };
    const aws = timeRuns(AWS_RUNS, 'aws', ['eks', 'get-token', '--cluster-name', 'demo'], awsEnv);
    const a50 = median(aws.times);
    console.log(`  aws eks get-token (peer):         p50 ${ms(a50)}  p95 ${ms(quantile(aws.times, 0.95))}`);
    console.log(`  ratio ours/aws: 1/${(a50 / p50).toFixed(0)}  (goal ≤ 1/30: ${a50 / p50 >= 30 ? 'met' : 'NOT met'})`);
  } else console.log('  aws CLI not installed: no peer figure');

  if (!has('kubectl')) {
    console.log('  kubectl not installed: no kubectl figures');
    return;
  }
  const api = await startKubeApi(null, { staticToken: token });
  if (!api) throw new Error('could not start the test API');
  try {
    const withPlugin = path.join(dir, 'plugin.kubeconfig');
    fs.writeFileSync(
      withPlugin,
      // the context selected as a user would (`kubectl config use-context`)
      `${addKubeEntries(null, [
        {
          name: 'pim-demo-bench',
          cluster: 'demo',
          role: 'bench',
          server: api.url,
          certificateAuthorityData: api.caData,
          command: helper,
          args: ['kube', 'pim-demo-bench'],
        },
      ])}current-context: pim-demo-bench\n`,
      { mode: 0o600 },
    );
    const withStatic = path.join(dir, 'static.kubeconfig');
    fs.writeFileSync(
      withStatic,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: demo\n  cluster:\n    server: ${api.url}\n    certificate-authority-data: ${api.caData}\nusers:\n- name: static\n  user:\n    token: static-bench-token\ncontexts:\n- name: demo\n  context:\n    cluster: demo\n    user: static\ncurrent-context: demo\n`,
      { mode: 0o600 },
    );
    const kenv = { ...process.env, HOME: dir };
    const args = (cfg: string) => ['--kubeconfig', cfg, '--cache-dir', path.join(dir, 'kube-cache'), 'get', 'pods'];
    // warm the discovery cache for both, then alternate so drift hits both alike
    for (let i = 0; i < 2; i++) {
      await timeAsync('kubectl', args(withPlugin), kenv);
      await timeAsync('kubectl', args(withStatic), kenv);
    }
    const plug: number[] = [];
    const stat: number[] = [];
    for (let i = 0; i < Math.max(10, Math.floor(RUNS / 2)); i++) {
      plug.push(await timeAsync('kubectl', args(withPlugin), kenv));
      stat.push(await timeAsync('kubectl', args(withStatic), kenv));
    }
    const kp = median(plug);
    const ks = median(stat);
    console.log(`  kubectl get pods, our plugin:     p50 ${ms(kp)}  p95 ${ms(quantile(plug, 0.95))}`);
    console.log(`  kubectl get pods, static token:   p50 ${ms(ks)}  p95 ${ms(quantile(stat, 0.95))}`);
    console.log(
      `  ratio plugin/static: ${(kp / ks).toFixed(2)}×  (goal ≤ 1.2×: ${kp / ks <= 1.2 ? 'met' : 'NOT met'})`,
    );
  } finally {
    await api.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
