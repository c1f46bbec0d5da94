// A real rsyslogd (Debian's rsyslog + rsyslog-gnutls) listening with TLS on loopback, for the
// syslog forwarding tests: a throwaway CA and a server certificate for `localhost` made with
// openssl in a temporary directory (no key material ever under the repository), a minimal config
// (imtcp with the gtls stream driver, anonymous client auth), and an omfile action that writes
// every received message as it arrived (%rawmsg%), one a line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after } from './cleanup';
import { freePort } from './net';
import { tmpDir } from './repo';

export { freePort };

export interface TlsMaterial {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** A CA and a certificate it signed for localhost / 127.0.0.1, in a fresh temporary directory. */
export function makeTlsMaterial(): TlsMaterial {
  const dir = tmpDir('pim-syslog-tls-');
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=pim test syslog CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  for (const f of ['ca.key', 'server.key']) fs.chmodSync(path.join(dir, f), 0o600);
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
  };
}

export interface Rsyslog {
  port: number;
  /** where every received message lands, one a line, exactly as received */
  output: string;
  /** complete lines received so far */
  lines(): string[];
  /** (re)start rsyslogd on the same port and wait until it accepts connections */
  start(): Promise<void>;
  /** stop it: SIGTERM (clean shutdown, queue flushed) or SIGKILL (a crash) */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** what rsyslogd printed (diagnostics) */
  log(): string;
}

export async function startRsyslog(tlsMaterial: TlsMaterial): Promise<Rsyslog> {
  const dir = tmpDir('pim-rsyslog-');
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  const output = path.join(dir, 'received.log');
  const pidFile = path.join(dir, 'rsyslogd.pid');
  const conf = path.join(dir, 'rsyslog.conf');
  const port = await freePort();
  fs.writeFileSync(
    conf,
    `global(
  workDirectory="${work}"
  maxMessageSize="1m"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="${tlsMaterial.caCert}"
  defaultNetstreamDriverCertFile="${tlsMaterial.serverCert}"
  defaultNetstreamDriverKeyFile="${tlsMaterial.serverKey}"
)
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="received") {
  action(type="omfile" file="${output}" template="raw")
}
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="received")
`,
  );
  let child: ChildProcess | null = null;
  let out = '';
  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const acceptsConnections = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });

  const r: Rsyslog = {
    port,
    output,
    lines() {
      let text: string;
      try {
        text = fs.readFileSync(output, 'utf8');
      } catch {
        return [];
      }
      const parts = text.split('\n');
      parts.pop(); // the last one is '' or a line still being written
      return parts;
    },
    async start() {
      const c = spawn('rsyslogd', ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      const deadline = Date.now() + 10_000;
      while (!(await acceptsConnections())) {
        if (c.exitCode !== null || c.signalCode !== null)
          throw new Error(`rsyslogd exited (${c.exitCode ?? c.signalCode}) before listening:\n${out}`);
        if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on 127.0.0.1:${port} within 10 s:\n${out}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(signal);
      });
      fs.rmSync(pidFile, { force: true });
    },
    log: () => out,
  };
  await r.start();
  return r;
}

/** Polls until `check` returns a value other than undefined, or throws `what` after `ms`. */
export async function waitFor<T>(what: () => string, check: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
