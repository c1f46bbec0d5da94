// `pim-server serve`: serves the TUF repository (metadata + targets) and a small API, and keeps the
// timestamp fresh while it runs. Read-only over HTTP: nothing a client sends changes the repository.
import fs from 'node:fs';
import path from 'node:path';
import { decodedPath } from './api/request-path';
import { errorMessage } from '../shared/errors';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { httpError } from './api/errors';
import { capUnreadBody, MAX_BODY, rawBodyParser, registerApi } from './api/routes';
import { SyslogForwarder, type SyslogTarget } from './audit/syslog';
import { ceremonyDistDir, registerCeremonyPages } from './ceremony-page';
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
  /** Fastify's request log (pino, JSON lines): off unless given. It names method, route, status
   *  and request id; never a body, a header (Authorization, cookies) or a path's ids */
  httpLog?: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'; stream?: NodeJS.WritableStream };
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
  const app = buildApp(dir, p, () => cp, log, opts.httpLog);
  try {
    await app.listen({ port: opts.port, host: opts.host });
  } catch (e) {
    await app.close();
    lightDb.close();
    db.close();
    throw e;
  }
  const server = app.server;
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
    await app.close();
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
    close: async () => {
      clearInterval(timer);
      // the forwarder finishes its batch in flight (and commits its cursor) before the db closes
      const forwarderDone = syslog ? syslog.stop() : Promise.resolve();
      await app.close(); // forceCloseConnections: parked long polls are cut too
      await forwarderDone;
      lightDb.close();
      db.close();
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

type Paths = ReturnType<typeof paths>;
const JSON_TYPE = 'application/json';

/** The Fastify app: the contract's API (server/api/routes.ts), the ceremony page, the TUF
 *  repository, the issuer documents; one error handler for every refusal. */
function buildApp(
  dir: string,
  p: Paths,
  getCp: () => ControlPlane | null,
  log: (line: string) => void,
  httpLog: ServeOptions['httpLog'],
): FastifyInstance {
  const app = Fastify({
    logger: httpLog
      ? {
          level: httpLog.level,
          ...(httpLog.stream ? { stream: httpLog.stream } : {}),
          serializers: {
            // the route's pattern, not the URL: ceremony and approval paths carry ids that act as
            // capabilities; no headers (Authorization carries the device signature)
            req: (req: { method: string; routeOptions?: { url?: string } }) => ({
              method: req.method,
              route: req.routeOptions?.url ?? '(none)',
            }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
        }
      : false,
    // what node's http server did before: a client's idle keep-alive connection is closed after 5 s,
    // a request not received in full within 5 min is cut
    keepAliveTimeout: 5_000,
    requestTimeout: 300_000,
    // close() cuts parked long polls rather than waiting up to 30 s for them
    forceCloseConnections: true,
    bodyLimit: MAX_BODY,
    routerOptions: {
      // ids are checked by the contract's schemas (400 naming the field), not refused as too long
      maxParamLength: 8 * 1024,
      // one value per name, the last one given (a repeated name is not an array)
      querystringParser: (q: string) => Object.fromEntries(new URLSearchParams(q)),
    },
    frameworkErrors: (_e, _request, reply) => {
      // a path that is not valid percent-encoding
      send(reply, 400, JSON.stringify({ error: 'bad request' }));
    },
  });

  // every response: nosniff, and the request id (to find the request in the server's log)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-request-id', request.id);
    done();
  });
  // a body nobody read (answered before it was looked at) is drained up to a cap, then cut
  app.addHook('onSend', (request, _reply, payload, done) => {
    capUnreadBody(request.raw);
    done(null, payload);
  });

  // bodies are JSON, kept as the bytes that came (device signatures cover them); any other
  // content type is Fastify's 415
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPE, rawBodyParser);

  app.setErrorHandler((e, request, reply) => {
    const { status, code, message } = apiError(e, request);
    if (status >= 500) {
      process.stderr.write(`pim-server: ${(e as Error)?.stack ?? String(e)}\n`);
    }
    reply.code(status).header('cache-control', 'no-store').send({ ok: false, error: { code, message } });
  });
  app.setNotFoundHandler((request, reply) => {
    const route = decodedPath(request.url);
    if (route !== null && route.startsWith('/api/v1/') && route !== '/api/v1/info') {
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .send({ ok: false, error: { code: 'not-found', message: 'no such API route' } });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return send(reply, 405, JSON.stringify({ error: 'method not allowed' }));
    return send(reply, 404, JSON.stringify({ error: 'not found' }));
  });

  registerApi(app, getCp);
  registerCeremonyPages(app, ceremonyDistDir());

  const sendFile = (reply: FastifyReply, file: string, cache: string) => {
    fs.readFile(file, (err, data) => {
      if (err) send(reply, 404, JSON.stringify({ error: 'not found' }));
      else send(reply, 200, data, JSON_TYPE, cache);
    });
    return reply;
  };
  app.get('/trust-root.json', (_request, reply) => sendFile(reply, p.trustRoot, 'no-store'));
  app.get('/healthz', (_request, reply) => send(reply, 200, JSON.stringify({ ok: true })));
  // the OIDC-style issuer (docs/architecture.md, Decisions: Kube credentials…): kube API servers and AWS IAM OIDC
  // providers fetch these
  app.get('/.well-known/openid-configuration', (_request, reply) => {
    const cp = getCp();
    if (!cp) return send(reply, 503, JSON.stringify({ error: 'starting' }));
    return send(reply, 200, JSON.stringify(openidConfiguration(cp.cfg.publicUrl)), JSON_TYPE, 'public, max-age=300');
  });
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    const cp = getCp();
    if (!cp) return send(reply, 503, JSON.stringify({ error: 'starting' }));
    try {
      const jwks = await cp.issuance.issuerKeys.jwks();
      return send(reply, 200, JSON.stringify(jwks), JSON_TYPE, 'public, max-age=60');
    } catch (e) {
      log(`JWKS unavailable: ${errorMessage(e)}`);
      return send(reply, 500, JSON.stringify({ error: 'the issuer keys are unavailable' }));
    }
  });
  // the SSH CA's public key, for sshd's TrustedUserCAKeys
  app.get('/ssh-ca.pub', (_request, reply) => {
    const cp = getCp();
    if (!cp) return send(reply, 503, JSON.stringify({ error: 'starting' }));
    try {
      return send(
        reply,
        200,
        `${cp.issuance.sshCa.publicKeyLine()}\n`,
        'text/plain; charset=utf-8',
        'public, max-age=300',
      );
    } catch (e) {
      log(`SSH CA unavailable: ${errorMessage(e)}`);
      return send(reply, 500, JSON.stringify({ error: 'the SSH CA is unavailable' }));
    }
  });
  app.get('/api/v1/info', (_request, reply) => {
    const s = readState(dir);
    return send(
      reply,
      200,
      JSON.stringify({
        service: 'pim-server',
        rootVersion: s.rootVersion,
        policyVersion: s.targetsVersion,
        policyExpires: s.policyExpires,
      }),
    );
  });
  app.get('/tuf/metadata/*', (request, reply) => {
    const name = (decodedPath(request.url) ?? '').slice('/tuf/metadata/'.length);
    if (!METADATA_NAME.test(name)) return send(reply, 404, JSON.stringify({ error: 'not found' }));
    return sendFile(reply, path.join(p.metadata, name), name === 'timestamp.json' ? 'no-store' : 'public, max-age=300');
  });
  app.get('/tuf/targets/*', (request, reply) => {
    const name = (decodedPath(request.url) ?? '').slice('/tuf/targets/'.length);
    if (!TARGET_PATH.test(name)) return send(reply, 404, JSON.stringify({ error: 'not found' }));
    return sendFile(reply, path.join(p.targets, name), 'public, max-age=86400, immutable');
  });
  return app;
}

/** A non-API answer: the body as given, its type, and how long it may be cached. */
function send(
  reply: FastifyReply,
  status: number,
  body: string | Buffer,
  type = JSON_TYPE,
  cache = 'no-store',
): FastifyReply {
  return reply.code(status).header('content-type', type).header('cache-control', cache).send(body);
}

/** What an error thrown while answering an API call becomes on the wire (server/api/errors.ts), and
 *  Fastify's own refusals in the same codes. */
function apiError(e: unknown, request: FastifyRequest): { status: number; code: string; message: string } {
  const fst = e as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof fst?.code === 'string' && fst.code.startsWith('FST_')) {
    if (fst.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = String(request.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      return {
        status: 415,
        code: 'unsupported-media-type',
        message: `the request body must be JSON sent as Content-Type: application/json${type ? ` (got ${type.slice(0, 60)})` : ''}`,
      };
    }
    if (fst.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return { status: 413, code: 'too-large', message: 'the request body is too large' };
    if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500)
      return { status: 400, code: 'bad-request', message: String(fst.message) };
  }
  return httpError(e);
}
