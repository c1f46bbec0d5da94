// Local stand-ins for the two cloud token endpoints our federated tokens are exchanged at, each
// checking the token the way its cloud does — signature against the control plane's JWKS, issuer,
// audience, expiry — and refusing anything else with the error shape the real one uses:
//
// - Google's Security Token Service (sts.googleapis.com): POST /v1/token, an RFC 8693 token exchange
//   (grant_type urn:ietf:params:oauth:grant-type:token-exchange, audience
//   //iam.googleapis.com/<provider>, subject_token_type …:jwt, requested_token_type …:access_token,
//   scope); the subject token's `aud` must be https://iam.googleapis.com/<provider> (the provider's
//   default allowed audience). POST /v1/introspect answers for the access tokens it issued (gcloud
//   asks it who the account is).
// - The Microsoft identity platform (login.microsoftonline.com): the tenant's OpenID metadata,
//   instance discovery, and POST /<tenant>/oauth2/v2.0/token with the client-credentials grant and a
//   client assertion (client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer)
//   that must match a federated identity credential: issuer, subject and audience exactly, and the
//   app's client_id. MSAL only talks https and checks the authority host against Microsoft's instance
//   discovery (on login.microsoftonline.com), so the SDK is left exactly as shipped and routed the way
//   it allows: HTTPS_PROXY points at `proxy`, a CONNECT proxy that sends login.microsoftonline.com:443
//   here, and this serves TLS for that name with a throwaway CA (caFile: NODE_EXTRA_CA_CERTS).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { errorMessage } from '../../shared/errors';

export interface Exchange {
  ok: boolean;
  /** why it was refused */
  reason: string | null;
  claims: JWTPayload | null;
  params: Record<string, string>;
}

export interface StandIn {
  url: string;
  exchanges: Exchange[];
  stop(): Promise<void>;
}

export interface GoogleSts extends StandIn {
  /** generateAccessToken calls that were granted: which service account, for whose federated token */
  impersonations: { serviceAccount: string; subject: string }[];
}

async function body(req: http.IncomingMessage): Promise<Record<string, string>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return Object.fromEntries(new URLSearchParams(text));
}

function send(res: http.ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(json));
}

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closer(server: http.Server | https.Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export async function startGoogleSts(o: { jwksUrl: string; issuer: string; provider: string }): Promise<GoogleSts> {
  const keys = createRemoteJWKSet(new URL(o.jwksUrl));
  const exchanges: Exchange[] = [];
  const impersonations: GoogleSts['impersonations'] = [];
  const issued = new Map<string, JWTPayload>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const impersonate = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(req.url ?? '');
      if (req.method === 'POST' && impersonate) {
        const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const c = issued.get(bearer);
        if (!c)
          return send(res, 401, {
            error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' },
          });
        impersonations.push({ serviceAccount: decodeURIComponent(impersonate[1]!), subject: String(c.sub) });
        const accessToken = `ya29.pim-test-sa-${crypto.randomBytes(12).toString('hex')}`;
        return send(res, 200, {
          accessToken,
          expireTime: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        });
      }
      const p = await body(req);
      if (req.method === 'POST' && req.url === '/v1/token') {
        const refuse = (reason: string) => {
          exchanges.push({ ok: false, reason, claims: null, params: p });
          send(res, 400, { error: 'invalid_grant', error_description: reason });
        };
        if (p.grant_type !== 'urn:ietf:params:oauth:grant-type:token-exchange')
          return refuse(`unsupported grant_type ${p.grant_type}`);
        if (p.requested_token_type !== 'urn:ietf:params:oauth:token-type:access_token')
          return refuse('requested_token_type must be access_token');
        if (p.subject_token_type !== 'urn:ietf:params:oauth:token-type:jwt')
          return refuse('subject_token_type must be jwt');
        if (p.audience !== `//iam.googleapis.com/${o.provider}`) return refuse(`unknown audience ${p.audience}`);
        if (!p.scope) return refuse('scope is required');
        let claims: JWTPayload;
        try {
          ({ payload: claims } = await jwtVerify(p.subject_token ?? '', keys, {
            issuer: o.issuer,
            audience: `https://iam.googleapis.com/${o.provider}`,
          }));
        } catch (e) {
          return refuse(`The subject token is invalid: ${errorMessage(e)}`);
        }
        const token = `ya29.pim-test-${crypto.randomBytes(12).toString('hex')}`;
        issued.set(token, claims);
        exchanges.push({ ok: true, reason: null, claims, params: p });
        return send(res, 200, {
          access_token: token,
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'Bearer',
          expires_in: 3600,
        });
      }
      if (req.method === 'POST' && req.url === '/v1/introspect') {
        const c = issued.get(p.token ?? '');
        if (!c) return send(res, 200, { active: false });
        return send(res, 200, {
          active: true,
          scope: 'https://www.googleapis.com/auth/cloud-platform',
          username: `principal://iam.googleapis.com/${o.provider.replace(/\/providers\/.*$/, '')}/subject/${c.sub}`,
          exp: Math.floor(Date.now() / 1000) + 3600,
        });
      }
      send(res, 404, { error: { code: 404, message: `no ${req.method} ${req.url} here` } });
    })();
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, exchanges, impersonations, stop: closer(server) };
}

export interface Entra extends StandIn {
  caFile: string;
  /** HTTPS_PROXY for the Azure SDK: CONNECTs to login.microsoftonline.com:443 reach the stand-in, nothing else goes anywhere */
  proxy: string;
}

export const ENTRA_HOST = 'login.microsoftonline.com';

/** the throwaway TLS certificate for 127.0.0.1 / localhost (openssl must be installed) */
function selfSigned(): { dir: string; cert: Buffer; key: Buffer } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-entra-'));
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:login.microsoftonline.com,IP:127.0.0.1,DNS:localhost',
    ],
    { cwd: dir, encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`openssl failed (${r.status}): ${r.stderr}`);
  return { dir, cert: fs.readFileSync(path.join(dir, 'cert.pem')), key: fs.readFileSync(path.join(dir, 'key.pem')) };
}

export async function startEntra(o: {
  jwksUrl: string;
  issuer: string;
  tenantId: string;
  clientId: string;
  subject: string;
  audience?: string;
}): Promise<Entra> {
  const keys = createRemoteJWKSet(new URL(o.jwksUrl));
  const audience = o.audience ?? 'api://AzureADTokenExchange';
  const exchanges: Exchange[] = [];
  const tls = selfSigned();
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    void (async () => {
      // as the client addressed us (through the proxy: https://login.microsoftonline.com)
      const base = `https://${req.headers.host ?? ENTRA_HOST}`;
      const url = new URL(req.url ?? '/', base);
      const p = req.method === 'POST' ? await body(req) : {};
      const tenantPath = `/${o.tenantId}`;
      if (url.pathname === '/common/discovery/instance') {
        return send(res, 200, {
          tenant_discovery_endpoint: `${base}${tenantPath}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: url.host, preferred_cache: url.host, aliases: [url.host] }],
        });
      }
      if (url.pathname === `${tenantPath}/v2.0/.well-known/openid-configuration`) {
        return send(res, 200, {
          issuer: `${base}${tenantPath}/v2.0`,
          authorization_endpoint: `${base}${tenantPath}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}${tenantPath}/oauth2/v2.0/token`,
          end_session_endpoint: `${base}${tenantPath}/oauth2/v2.0/logout`,
          jwks_uri: `${base}${tenantPath}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        });
      }
      if (req.method === 'POST' && url.pathname === `${tenantPath}/oauth2/v2.0/token`) {
        // the identity platform's error shape (AADSTS codes as the real one uses them)
        const refuse = (code: string, reason: string) => {
          exchanges.push({ ok: false, reason, claims: null, params: p });
          send(res, 400, {
            error: code === 'AADSTS700016' ? 'unauthorized_client' : 'invalid_client',
            error_description: `${code}: ${reason}`,
            error_codes: [Number(code.slice(6))],
          });
        };
        if (p.grant_type !== 'client_credentials')
          return refuse('AADSTS70003', `unsupported grant_type ${p.grant_type}`);
        if (p.client_id !== o.clientId)
          return refuse('AADSTS700016', `Application with identifier '${p.client_id}' was not found in the directory`);
        if (p.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
          return refuse('AADSTS7000216', 'client_assertion_type must be jwt-bearer');
        let claims: JWTPayload;
        try {
          ({ payload: claims } = await jwtVerify(p.client_assertion ?? '', keys, {
            issuer: o.issuer,
            audience,
            subject: o.subject,
          }));
        } catch (e) {
          return refuse(
            'AADSTS700213',
            `No matching federated identity record found for presented assertion: ${errorMessage(e)}`,
          );
        }
        exchanges.push({ ok: true, reason: null, claims, params: p });
        return send(res, 200, {
          token_type: 'Bearer',
          expires_in: 3599,
          ext_expires_in: 3599,
          access_token: `eyJ0eXAiOiJKV1QifQ.${Buffer.from(JSON.stringify({ aud: p.scope, tid: o.tenantId, appid: o.clientId })).toString('base64url')}.pim-test`,
        });
      }
      send(res, 404, { error: 'not_found', error_description: `no ${req.method} ${url.pathname} here` });
    })();
  });
  const port = await listen(server);
  const proxy = http.createServer((_req, res) => {
    res.writeHead(403);
    res.end();
  });
  const tunnels = new Set<net.Socket>();
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    if (req.url !== `${ENTRA_HOST}:443`) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on('close', () => {
      tunnels.delete(upstream);
      socket.destroy();
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  });
  const proxyPort = await listen(proxy);
  const stop = closer(server);
  const stopProxy = closer(proxy);
  return {
    url: `https://127.0.0.1:${port}`,
    proxy: `http://127.0.0.1:${proxyPort}`,
    caFile: path.join(tls.dir, 'cert.pem'),
    exchanges,
    stop: async () => {
      // tunnels are raw sockets the HTTP servers no longer track
      for (const t of tunnels) t.destroy();
      await stopProxy();
      await stop();
      fs.rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}
