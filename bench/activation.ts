// Activation at the control plane: throughput of the whole protocol (device-signed request →
// server re-evaluation + challenge → software security key signs → server verifies + auto-approves)
// over loopback against a real `pim-server serve` process; and the round trip from an assertion
// submitted to the agent seeing `active` on its long poll.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlPlaneClient } from '../agent/activation/cp-client';
import { createDeviceKey, FileKeystore, type DeviceKey } from '../agent/keystore';
import { initRepo, publishPolicy } from '../server/repo/repository';
import { SoftAuthenticator } from '../test/helpers/soft-authenticator';
import { startServer } from './_server';
import { median, ms, quantile } from './_stats';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

const POLICY = `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional, mfa: { userVerification: required } }
users:
${Array.from({ length: WORKERS + 1 }, (_, i) => `  - { email: user${i}@acme.example, groups: [eng] }`).join('\n')}
`;

interface Worker {
  email: string;
  key: DeviceKey;
  auth: SoftAuthenticator;
  client: ControlPlaneClient;
}

/** user + system CPU seconds a process has used (Linux /proc) */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-bench-act-'));
  const repo = path.join(dir, 'repo');
  initRepo(repo);
  publishPolicy(repo, POLICY);
  const root = path.join(__dirname, '..');
  const { server, url, publicUrl } = await startServer(repo);
  try {
    const anon = new ControlPlaneClient(url, null);

    // enrol one user per worker (a security key's counter cannot be shared by concurrent signers)
    const workers: Worker[] = [];
    for (let i = 0; i <= WORKERS; i++) {
      const email = `user${i}@acme.example`;
      const add = await new Promise<string>((resolve) => {
        const p = spawn(process.execPath, [path.join(root, 'bin', 'pim-server.cjs'), 'user', 'add', repo, email], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let o = '';
        p.stdout.on('data', (d) => (o += d));
        p.on('exit', () => resolve(o));
      });
      const code = /code=([^&\s]+)/.exec(add)![1]!;
      const key = await createDeviceKey(new FileKeystore(path.join(dir, `ks${i}`)));
      const client = new ControlPlaneClient(url, key);
      const auth = new SoftAuthenticator();
      const s = await client.call<{ id: string; options: never }>('POST', '/api/v1/enrol/start', {
        code,
        deviceJwk: key.publicJwk,
      });
      await anon.call(
        'POST',
        `/api/v1/ceremony/enrol/${s.id}`,
        { response: auth.register(s.options, publicUrl) },
        { sign: false },
      );
      workers.push({ email, key, auth, client });
    }
    const request = (w: Worker) => ({
      v: 1,
      kind: 'activate',
      user: w.email,
      device: w.key.thumbprint,
      role: 'readonly',
      duration: 600,
      justification: null,
      ticket: null,
      sshPublicKey: null,
      policyVersion: 1,
      requestedAt: new Date().toISOString(),
      extends: null,
    });
    const once = async (w: Worker) => {
      const { activation, options } = await w.client.call<{ activation: { id: string }; options: never }>(
        'POST',
        '/api/v1/activations',
        { request: request(w) },
      );
      const v = await anon.call<{ state: string }>(
        'POST',
        `/api/v1/ceremony/activation/${activation.id}`,
        { response: w.auth.authenticate(options, publicUrl) },
        { sign: false },
      );
      if (v.state !== 'active') throw new Error(`unexpected state ${v.state}`);
    };

    // throughput: WORKERS concurrent users, each activating back to back
    const runFor = async (seconds: number) => {
      let done = 0;
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        workers.slice(1).map(async (w) => {
          while (performance.now() < end) {
            await once(w);
            done++;
          }
        }),
      );
      return done;
    };
    await runFor(1.5); // warm-up
    const cpu0 = cpuSeconds(server.pid!);
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const n = await runFor(SECONDS);
    const wall = (performance.now() - t0) / 1000;
    const rate = n / wall;
    const serverCpu = (cpuSeconds(server.pid!) - cpu0) / wall;
    const selfUsage = process.cpuUsage(self0);
    const clientCpu = (selfUsage.user + selfUsage.system) / 1e6 / wall;
    console.log(
      `activation throughput (${WORKERS} concurrent users, loopback, full protocol): ${rate.toFixed(0)} activations/s over ${n} (goal ≥ 300/s: ${rate >= 300 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `  CPU during the run: server ${(serverCpu * 100).toFixed(0)}% of a core (${((serverCpu / rate) * 1000).toFixed(2)} ms per activation), load generator ${(clientCpu * 100).toFixed(0)}% — ${os.cpus().length} cores`,
    );

    // round trip: assertion submitted → the agent's long poll sees `active`
    const w = workers[0]!;
    const rt: number[] = [];
    for (let i = 0; i < 120; i++) {
      const { activation, options } = await w.client.call<{ activation: { id: string }; options: never }>(
        'POST',
        '/api/v1/activations',
        { request: request(w) },
      );
      const assertion = w.auth.authenticate(options, publicUrl);
      let t = 0;
      const seen = w.client
        .call<{ state: string }>('GET', `/api/v1/activations/${activation.id}?wait=requested&timeout=10`)
        .then((v) => {
          if (v.state !== 'active') throw new Error(v.state);
          return performance.now() - t;
        });
      await new Promise((r) => setTimeout(r, 5)); // the long poll is parked
      t = performance.now();
      await anon.call('POST', `/api/v1/ceremony/activation/${activation.id}`, { response: assertion }, { sign: false });
      if (i >= 20) rt.push(await seen);
      else await seen;
    }
    console.log(
      `round trip, assertion submitted → agent sees active (long poll, 100 runs): p50 ${ms(median(rt))} (goal ≤ 50 ms: ${median(rt) <= 50 ? 'met' : 'NOT met'}), p95 ${ms(quantile(rt, 0.95))}`,
    );
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
