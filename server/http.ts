// `pim-server serve`: serves the TUF repository (metadata + targets) and a small API, and keeps the
// timestamp fresh while it runs. Read-only over HTTP: nothing a client sends changes the repository.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { errorMessage } from '../shared/errors';
import { handleApi } from './api/routes';
import { SyslogForwarder, type SyslogTarget } from './audit/syslog';
import { ceremonyDistDir, serveCeremonyPage } from './ceremony-page';
import { configFor, loadConfig, saveConfig, type ServerConfig } from './config';
import { ControlPlane } from './control-plane';
import { openidConfiguration } from './credentials/issue';
import { paths, readState, refreshTimestamp } from './repo/repository';
import { openLightDb, openServerDb } from './store/db';
import { Store } from './store/store';

const METADATA_NAME = /^(?:[0-9]{1,10}\.)?(?:root|targets|snapshot|timestamp|bin-[0-9a-f]{1,4})\.json$/;
const TARGET_PATH = /^(?:policy|members)\/[0-9a-f]{64}\.[A-Za-z0-9._-]{1,100}$/;

export interface ServeOptions {
  host: string;
  port: number;
  /** how often to check whether the timestamp needs re-signing, ms */
  timestampCheckMs?: number;
  /** false serves the repository exactly as it is on disk (tests use it to play a frozen mirror) */
  keepTimestampFresh?: boolean;
  /** the URL people reach this control plane at (WebAuthn RP ID and origin); default
   *  http://localhost:PORT when listening on loopback */
  publicUrl?: string;
  clock?: () => Date;
  log?: (line: string) => void;
  /** forward the synced audit records to this syslog receiver (RFC 5424 over TLS, RFC 5425) */
  syslog?: SyslogTarget & { pollMs?: number };
}

export interface RunningServer {
  url: string;
  /** what people open (ceremonies): http://localhost:PORT on loopback */
  publicUrl: string;
  port: number;
  controlPlane: ControlPlane;
  /** the audit forwarder, when `syslog` was given */
  syslog: SyslogForwarder | null;
  close(): Promise<void>;
}

export async function serve(dir: string, opts: ServeOptions): Promise<RunningServer> {
  readState(dir); // fail early with a clear message when DIR is not a repository
  const p = paths(dir);
  const log = opts.log ?? (() => {});
  const db = openServerDb(dir);
  const lightDb = openLightDb(dir);
  // the control plane is created once the port (and so the public URL) is known
  let cp: ControlPlane | null = null;
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string | Buffer, type = 'application/json', cache = 'no-store') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': cache, 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    let url: URL;
    let route: string;
    try {
      url = new URL(req.url ?? '/', 'http://x');
      route = decodeURIComponent(url.pathname);
    } catch {
      return send(400, JSON.stringify({ error: 'bad request' }));
    }
    if (cp && handleApi(cp, req, res, route, url.searchParams)) return;
    if (serveCeremonyPage(req, res, route, ceremonyDistDir())) return;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, JSON.stringify({ error: 'method not allowed' }));
    if (route === '/trust-root.json') return sendFile(p.trustRoot, 'no-store');
    if (route === '/healthz') return send(200, JSON.stringify({ ok: true }));
    // the OIDC-style issuer (docs/architecture.md, Decisions: Kube credentials…): kube API servers and AWS IAM OIDC
    // providers fetch these
    if (route === '/.well-known/openid-configuration') {
      if (!cp) return send(503, JSON.stringify({ error: 'starting' }));
      return send(
        200,
        JSON.stringify(openidConfiguration(cp.cfg.publicUrl)),
        'application/json',
        'public, max-age=300',
      );
    }
    if (route === '/.well-known/jwks.json') {
      if (!cp) return send(503, JSON.stringify({ error: 'starting' }));
      cp.issuance.issuerKeys.jwks().then(
        (jwks) => send(200, JSON.stringify(jwks), 'application/json', 'public, max-age=60'),
        (e: unknown) => {
          log(`JWKS unavailable: ${errorMessage(e)}`);
          send(500, JSON.stringify({ error: 'the issuer keys are unavailable' }));
        },
      );
      return;
    }
    // the SSH CA's public key, for sshd's TrustedUserCAKeys
    if (route === '/ssh-ca.pub') {
      if (!cp) return send(503, JSON.stringify({ error: 'starting' }));
      try {
        return send(200, `${cp.issuance.sshCa.publicKeyLine()}\n`, 'text/plain; charset=utf-8', 'public, max-age=300');
      } catch (e) {
        log(`SSH CA unavailable: ${errorMessage(e)}`);
        return send(500, JSON.stringify({ error: 'the SSH CA is unavailable' }));
      }
    }
    if (route === '/api/v1/info') {
      const s = readState(dir);
      return send(
        200,
        JSON.stringify({
          service: 'pim-server',
          rootVersion: s.rootVersion,
          policyVersion: s.targetsVersion,
          policyExpires: s.policyExpires,
        }),
      );
    }
    if (route.startsWith('/tuf/metadata/')) {
      const name = route.slice('/tuf/metadata/'.length);
      if (!METADATA_NAME.test(name)) return send(404, JSON.stringify({ error: 'not found' }));
      return sendFile(path.join(p.metadata, name), name === 'timestamp.json' ? 'no-store' : 'public, max-age=300');
    }
    if (route.startsWith('/tuf/targets/')) {
      const name = route.slice('/tuf/targets/'.length);
      if (!TARGET_PATH.test(name)) return send(404, JSON.stringify({ error: 'not found' }));
      return sendFile(path.join(p.targets, name), 'public, max-age=86400, immutable');
    }
    return send(404, JSON.stringify({ error: 'not found' }));

    function sendFile(file: string, cache: string) {
      fs.readFile(file, (err, data) => {
        if (err) return send(404, JSON.stringify({ error: 'not found' }));
        send(200, data, 'application/json', cache);
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as { port: number };
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${addr.port}`;
  let cfg: ServerConfig;
  try {
    cfg = configFor(
      opts.publicUrl ??
        (isLoopback(opts.host)
          ? `http://localhost:${addr.port}`
          : (loadConfig(dir)?.publicUrl ?? `http://localhost:${addr.port}`)),
    );
  } catch (e) {
    server.close();
    lightDb.close();
    db.close();
    throw e;
  }
  saveConfig(dir, cfg);
  cp = new ControlPlane(dir, db, cfg, opts.clock, lightDb);

  const tick = () => {
    try {
      if (refreshTimestamp(dir)) log(`timestamp re-signed (v${readState(dir).timestampVersion})`);
    } catch (e) {
      log(`timestamp refresh failed: ${errorMessage(e)}`);
    }
  };
  const syslog = opts.syslog ? new SyslogForwarder(new Store(db).syslogCursors, { ...opts.syslog, log }) : null;
  syslog?.start();
  let timer: NodeJS.Timeout | undefined;
  if (opts.keepTimestampFresh !== false) {
    tick();
    timer = setInterval(tick, opts.timestampCheckMs ?? 60_000);
    timer.unref();
  }
  return {
    url,
    publicUrl: cfg.publicUrl,
    port: addr.port,
    controlPlane: cp,
    syslog,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        // the forwarder finishes its batch in flight (and commits its cursor) before the db closes
        const forwarderDone = syslog ? syslog.stop() : Promise.resolve();
        server.close(async () => {
          await forwarderDone;
          lightDb.close();
          db.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
