// A small HTTPS stand-in for a Kubernetes API server, enough for a real `kubectl get pods`: it answers the discovery
// kubectl does first (/version, /api, /apis, /api/v1) and lists one pod in `default`. Every request must carry
// `Authorization: Bearer <token>`, checked the way an API server configured for an OIDC issuer checks it
// (docs/architecture.md, Decisions: Kube credentials…): an ES256 JWT verified against the issuer's JWKS (a URL, a JWKS
// object or a key), not expired, `aud` = the cluster's name, and one of the allowed groups in `groups`. With
// `staticToken`, a fixed bearer is accepted instead (to compare the exec plugin with a plain token). Anything else gets
// 401 with the Status a real API server sends; kubectl 1.32 then says "error: You must be logged in to the server (the
// server has asked for the client to provide credentials)" (older ones: "(Unauthorized)"). The serving certificate is
// self-signed for localhost / 127.0.0.1, made with openssl in a temporary folder; `caData` is what goes into the
// kubeconfig's certificate-authority-data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from './test-context';
import { after } from './cleanup';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTPayload,
  type KeyObject,
} from 'jose';
import { errorMessage } from '../../shared/errors';
import { findProgram, requireProgram } from './system';

export interface KubeApiOptions {
  /** expected `aud` (the cluster's name) */
  audience?: string;
  /** `groups` must contain one of these */
  groups?: string[];
  /** expected `iss`, when given */
  issuer?: string;
  /** where the issuer's keys are: a JWKS URL, a JWKS, or one public key */
  jwksUrl?: string;
  jwks?: JSONWebKeySet;
  key?: CryptoKey | KeyObject;
  /** accept exactly this bearer token (and no JWT) */
  staticToken?: string;
  /** the pod `GET /api/v1/namespaces/default/pods` lists */
  podName?: string;
}

export interface KubeApiRequest {
  method: string;
  path: string;
  status: number;
  /** `sub` of an accepted JWT, 'static' for the static token, null when refused */
  subject: string | null;
  /** why a request was refused */
  reason: string | null;
}

export interface KubeApi {
  url: string;
  /** base64 of the PEM certificate (certificate-authority-data) */
  caData: string;
  caFile: string;
  requests: KubeApiRequest[];
  stop(): Promise<void>;
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function discovery(pathname: string, hostPort: string): unknown {
  switch (pathname) {
    case '/version':
      return {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.0-pim-test',
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2025-01-01T00:00:00Z',
        goVersion: 'go1.23.0',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    case '/api':
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: hostPort }],
      };
    case '/apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [] };
    case '/api/v1':
      return {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          {
            name: 'pods',
            singularName: 'pod',
            namespaced: true,
            kind: 'Pod',
            verbs: ['get', 'list'],
            shortNames: ['po'],
            categories: ['all'],
          },
        ],
      };
    default:
      return null;
  }
}

function podList(name: string, created: string): unknown {
  return {
    kind: 'PodList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '1' },
    items: [
      {
        metadata: {
          name,
          namespace: 'default',
          uid: '6f1f6d3e-0000-4000-8000-000000000001',
          resourceVersion: '1',
          creationTimestamp: created,
        },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], nodeName: 'node-1' },
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [
            {
              name: 'app',
              ready: true,
              restartCount: 0,
              image: 'registry.example/app:1',
              imageID: '',
              started: true,
              state: { running: { startedAt: created } },
            },
          ],
        },
      },
    ],
  };
}

/** What kubectl asks for first (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io,…`): the
 *  server-side printed table, with the columns a real API server prints for pods. */
function podTable(name: string, created: string): unknown {
  const col = (n: string, format = '') => ({ name: n, type: 'string', format, description: '', priority: 0 });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '1' },
    columnDefinitions: [col('Name', 'name'), col('Ready'), col('Status'), col('Restarts'), col('Age')],
    rows: [
      {
        cells: [name, '1/1', 'Running', '0', '60m'],
        object: {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: {
            name,
            namespace: 'default',
            uid: '6f1f6d3e-0000-4000-8000-000000000001',
            resourceVersion: '1',
            creationTimestamp: created,
          },
        },
      },
    ],
  };
}

/** Starts the API stand-in; null when openssl is missing (the test is then skipped; it fails under CI). */
export async function startKubeApi(t: TestContext | null, opts: KubeApiOptions): Promise<KubeApi | null> {
  if (
    t ? !requireProgram(t, 'openssl', 'the Kubernetes API stand-in needs a TLS certificate') : !findProgram('openssl')
  )
    return null;
  if (!opts.staticToken && !opts.jwksUrl && !opts.jwks && !opts.key)
    throw new Error('startKubeApi: give jwksUrl, jwks, key or staticToken');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-kube-api-'));
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
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { cwd: dir, encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`openssl failed (${r.status}): ${r.stderr}`);
  fs.chmodSync(path.join(dir, 'key.pem'), 0o600);
  const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  const key = fs.readFileSync(path.join(dir, 'key.pem'));

  const keys = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl))
    : opts.jwks
      ? createLocalJWKSet(opts.jwks)
      : null;
  const requests: KubeApiRequest[] = [];

  async function authenticate(header: string | undefined): Promise<{ subject: string } | { reason: string }> {
    const m = /^Bearer ([^\s]+)$/.exec(header ?? '');
    if (!m) return { reason: 'no bearer token' };
    const token = m[1]!;
    if (opts.staticToken !== undefined)
      return token === opts.staticToken ? { subject: 'static' } : { reason: 'not the static token' };
    let payload: JWTPayload;
    try {
      const verifyOpts = { algorithms: ['ES256'], audience: opts.audience, issuer: opts.issuer };
      payload = keys
        ? (await jwtVerify(token, keys, verifyOpts)).payload
        : (await jwtVerify(token, opts.key!, verifyOpts)).payload;
    } catch (e) {
      return { reason: `token refused: ${errorMessage(e)}` };
    }
    const groups = Array.isArray(payload.groups) ? (payload.groups as unknown[]) : [];
    if (opts.groups && !opts.groups.some((g) => groups.includes(g)))
      return { reason: `none of the groups ${JSON.stringify(groups)} is allowed` };
    return { subject: String(payload.sub ?? '') };
  }

  const server = https.createServer({ cert, key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const send = (code: number, body: unknown, rec: Omit<KubeApiRequest, 'method' | 'path' | 'status'>) => {
      requests.push({ method: req.method ?? '', path: url.pathname, status: code, ...rec });
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    authenticate(req.headers.authorization).then(
      (auth) => {
        if ('reason' in auth)
          return send(401, status(401, 'Unauthorized', 'Unauthorized'), { subject: null, reason: auth.reason });
        const addr = server.address() as AddressInfo;
        const doc = discovery(url.pathname, `127.0.0.1:${addr.port}`);
        if (req.method === 'GET' && doc) return send(200, doc, { subject: auth.subject, reason: null });
        if (req.method === 'GET' && url.pathname === '/api/v1/namespaces/default/pods') {
          const name = opts.podName ?? 'web-7d4b9c6f5-x2x9k';
          const created = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
          const table = /(^|[,;])\s*as=Table/.test(req.headers.accept ?? '');
          return send(200, table ? podTable(name, created) : podList(name, created), {
            subject: auth.subject,
            reason: null,
          });
        }
        return send(
          404,
          status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`),
          { subject: auth.subject, reason: null },
        );
      },
      (e: unknown) => send(500, status(500, 'InternalError', String(e)), { subject: null, reason: String(e) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let stopped = false;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      stopped = true;
      server.closeAllConnections();
      server.close(() => resolve());
    });
  // stopped with the test that started it (benchmarks pass no test and stop it themselves)
  if (t)
    after(async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  return {
    url: `https://127.0.0.1:${port}`,
    caData: cert.toString('base64'),
    caFile: path.join(dir, 'cert.pem'),
    requests,
    stop,
  };
}

/** A user's own kubeconfig from before PIM Agent, with a comment: every byte of it must survive. */
export const USER_KUBECONFIG = `# my clusters — hand-edited, keep this comment
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://dev.example.internal:6443
  name: dev
contexts:
- context:
    cluster: dev
    user: me
  name: dev
current-context: dev
users:
- name: me
  user:
    token: not-a-real-token
preferences: {}
`;
