// The control plane's JSON API (/api/v1/…). Agent calls carry a device signature:
//   Authorization: PIM-Device <compact JWS over method, path and body hash>  (shared/device-jws)
// Ceremony calls (/api/v1/ceremony/…) come from the page the security key is touched on; they
// need no device signature because the WebAuthn challenge itself binds them to one request.
import type http from 'node:http';
import zlib from 'node:zlib';
import { decodeProtectedHeader } from 'jose';
import { bodySha256, DeviceJwsError, verifyDeviceRequest } from '../../shared/device-jws';
import type { Caller, ControlPlane } from '../control-plane';
import { ApiError, bad, unauthorized } from './errors';

const MAX_BODY = 256 * 1024;
/** audit batches: what may arrive on the wire (compressed or not) … */
const MAX_AUDIT_BODY = 16 * 1024 * 1024;
/** … and what a gzip body may inflate to */
const MAX_AUDIT_INFLATED = 64 * 1024 * 1024;
/** past its limit a body is read and dropped (so the client, still sending, can read the 413 rather
 *  than meet a reset), up to this many bytes more; beyond that the connection is cut. Small: the
 *  ceremony and enrolment routes take unauthenticated bodies, and each oversized one would otherwise
 *  make the server read this much for nothing */
const MAX_DISCARD = 1024 * 1024;

type Handler = (ctx: {
  cp: ControlPlane;
  params: string[];
  query: URLSearchParams;
  body: unknown;
  caller: () => Promise<Caller>;
}) => Promise<unknown> | unknown;

interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  handler: Handler;
  /** largest body read (bytes on the wire); MAX_BODY when absent */
  maxBody?: number;
  /** accepts Content-Encoding: gzip, inflated to at most this many bytes (after the device signature,
   *  which covers the compressed bytes, was checked) */
  gzipMax?: number;
}

const ID = '([A-Za-z0-9_-]{1,64})';
const str = (v: unknown, name: string, max = 1000): string => {
  if (typeof v !== 'string' || v.length > max)
    throw bad('bad-input', `${name} must be a string of at most ${max} characters`);
  return v;
};
const obj = (v: unknown, name: string): Record<string, unknown> => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('bad-input', `${name} must be an object`);
  return v as Record<string, unknown>;
};

const routes: Route[] = [
  {
    method: 'POST',
    path: /^\/api\/v1\/enrol\/start$/,
    // signed with the new device key itself: proves the agent holds the key it asks to bind
    handler: async ({ cp, body, caller }) => {
      const b = obj(body, 'body');
      const jwk = obj(b.deviceJwk, 'deviceJwk') as { kty: string; crv: string; x: string };
      const { device } = await caller();
      return cp.enrolment.start(str(b.code, 'code', 200), jwk, device);
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/v1/enrol/${ID}$`),
    handler: async ({ cp, params, caller }) => cp.enrolment.status(params[0]!, (await caller()).device),
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/v1/ceremony/enrol/${ID}$`),
    handler: ({ cp, params }) => cp.enrolment.ceremony(params[0]!),
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/v1/ceremony/enrol/${ID}$`),
    handler: ({ cp, params, body }) =>
      cp.enrolment.finish(params[0]!, obj(obj(body, 'body').response, 'response') as never),
  },
  {
    method: 'POST',
    path: /^\/api\/v1\/activations$/,
    handler: async ({ cp, body, caller }) => cp.activations.create(await caller(), obj(body, 'body').request),
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/activations$/,
    handler: async ({ cp, caller }) => cp.activations.list(await caller()),
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/v1/activations/${ID}$`),
    // ?wait=STATE&timeout=SECONDS (≤ 30): answer when the state is no longer STATE (long poll)
    handler: async ({ cp, params, query, caller }) => {
      const who = await caller();
      const wait = query.get('wait');
      if (!wait) return cp.activations.get(who, params[0]!);
      const timeout = Math.min(30, Math.max(0, Number(query.get('timeout') ?? 25) || 0));
      return cp.activations.waitForChange(who, params[0]!, wait, timeout * 1000);
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/v1/activations/${ID}/deactivate$`),
    handler: async ({ cp, params, caller }) => cp.activations.deactivate(await caller(), params[0]!),
  },
  // short-lived credentials for an active activation (shared/credentials.ts), to the device that
  // requested it; body {}. 409 not-active once the activation ended (deactivated, expired, revoked)
  {
    method: 'POST',
    path: new RegExp(`^/api/v1/activations/${ID}/credentials$`),
    handler: async ({ cp, params, caller }) => cp.issuance.issue(await caller(), params[0]!),
  },
  // what the agent journals with an activation: the request bytes, nonce, assertion and approvals
  {
    method: 'GET',
    path: new RegExp(`^/api/v1/activations/${ID}/evidence$`),
    handler: async ({ cp, params, caller }) => cp.activations.evidenceFor(await caller(), params[0]!),
  },
  {
    method: 'POST',
    path: /^\/api\/v1\/audit$/,
    maxBody: MAX_AUDIT_BODY,
    gzipMax: MAX_AUDIT_INFLATED,
    // { records: [{ record, hash }] } → { acked, problem, signed }: the agent advances its cursor to
    // acked once `signed` (shared/audit-ack.ts) verifies
    handler: async ({ cp, body, caller }) => {
      const { device } = await caller();
      const records = obj(body, 'body').records;
      if (!Array.isArray(records)) throw bad('bad-input', 'records must be an array of { record, hash }');
      return cp.audit.ingest(device, records);
    },
  },
  // where an agent that lost its cursor resumes
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/head$/,
    handler: async ({ cp, caller }) => {
      const { device } = await caller();
      return cp.audit.head(device);
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/v1/ceremony/activation/${ID}$`),
    handler: ({ cp, params }) => cp.activations.ceremony(params[0]!),
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/v1/ceremony/activation/${ID}$`),
    handler: ({ cp, params, body }) =>
      cp.activations.submitAssertion(params[0]!, obj(obj(body, 'body').response, 'response') as never),
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/approvals$/,
    handler: async ({ cp, caller }) => cp.approvals.pending(await caller()),
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/v1/approvals/${ID}$`),
    handler: async ({ cp, params, body, caller }) => {
      const b = obj(body, 'body');
      if (b.decision !== 'approve' && b.decision !== 'deny')
        throw bad('bad-input', 'decision must be "approve" or "deny"');
      return cp.approvals.challenge(
        await caller(),
        params[0]!,
        b.decision,
        b.reason == null ? null : str(b.reason, 'reason'),
      );
    },
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/ceremony\/approval\/([0-9a-f]{64})$/,
    handler: ({ cp, params }) => cp.approvals.ceremony(params[0]!),
  },
  {
    method: 'POST',
    path: /^\/api\/v1\/ceremony\/approval\/([0-9a-f]{64})$/,
    handler: ({ cp, params, body }) =>
      cp.approvals.submitAssertion(params[0]!, obj(obj(body, 'body').response, 'response') as never),
  },
];

/** Handles /api/v1/… requests; returns false when the path is not an API route. */
export function handleApi(
  cp: ControlPlane,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  query = new URLSearchParams(),
): boolean {
  if (!pathname.startsWith('/api/v1/') || pathname === '/api/v1/info') return false;
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  let params: string[] = [];
  const route = routes.find((r) => {
    if (r.method !== method) return false;
    const m = r.path.exec(pathname);
    if (m) params = m.slice(1);
    return m !== null;
  });
  const reply = (status: number, payload: unknown) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(JSON.stringify(payload));
  };
  if (!route) {
    reply(404, { ok: false, error: { code: 'not-found', message: 'no such API route' } });
    return true;
  }
  readBody(req, route.maxBody ?? MAX_BODY)
    .then(async (raw) => {
      if (raw.length > 0) checkJsonType(req.headers['content-type']);
      const encoding = String(req.headers['content-encoding'] ?? 'identity')
        .trim()
        .toLowerCase();
      let text = raw;
      let body: unknown = {};
      let caller = () => authenticate(cp, req, pathname, raw, body);
      const gzip = encoding === 'gzip';
      if (encoding !== 'identity' && encoding !== '' && !(gzip && route.gzipMax)) {
        throw new ApiError(
          415,
          'unsupported-encoding',
          `this route does not accept Content-Encoding: ${encoding.slice(0, 40)}${route.gzipMax ? ' (gzip only)' : ''}`,
        );
      }
      if (route.gzipMax) {
        // large bodies: only an enrolled device makes the server inflate or parse them. The
        // signature covers the bytes as they came (compressed, when they are)
        const who = await authenticate(cp, req, pathname, raw, null);
        caller = () => Promise.resolve(who);
        if (gzip) text = inflate(raw, route.gzipMax);
      }
      if (text.length) {
        try {
          body = JSON.parse(text.toString('utf8'));
        } catch {
          throw bad('bad-json', 'the request body is not JSON');
        }
      }
      return route.handler({ cp, params, query, body, caller });
    })
    .then(
      (value) => reply(200, { ok: true, value }),
      (e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(500, 'internal', 'internal error in the control plane');
        if (!(e instanceof ApiError)) process.stderr.write(`pim-server: ${(e as Error)?.stack ?? String(e)}\n`);
        reply(err.status, { ok: false, error: { code: err.code, message: err.message } });
      },
    );
  return true;
}

function inflate(raw: Buffer, max: number): Buffer {
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new ApiError(
        413,
        'too-large',
        `the request body inflates to more than ${max / (1024 * 1024)} MiB; send smaller batches`,
      );
    }
    throw bad('bad-gzip', 'the request body is not valid gzip');
  }
}

/** A body is JSON, said so: anything else (a form post, text/plain from a cross-site page) is
 *  refused before it is parsed. */
function checkJsonType(header: string | undefined): void {
  const type = String(header ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(
      415,
      'unsupported-media-type',
      `the request body must be JSON sent as Content-Type: application/json${type ? ` (got ${type.slice(0, 60)})` : ''}`,
    );
  }
}

/** The body, at most `max` bytes. A larger one is refused with 413 once it has been read to its end
 *  (dropped as it comes), so the answer reaches a client that is still sending. */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (chunks.length) chunks.length = 0;
      if (size > max + MAX_DISCARD) req.destroy();
    });
    req.on('end', () =>
      size > max
        ? reject(new ApiError(413, 'too-large', `the request body is larger than ${Math.floor(max / 1024)} KiB`))
        : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
    // cut off (past MAX_DISCARD, or by the client): settle, or the handler would wait forever
    req.on('close', () => reject(new ApiError(413, 'too-large', 'the request body was cut off')));
  });
}

/** Who sent this: the device whose key signed the request (method, path, body), seen once. */
async function authenticate(
  cp: ControlPlane,
  req: http.IncomingMessage,
  pathname: string,
  raw: Buffer,
  body: unknown,
): Promise<Caller> {
  const h = req.headers.authorization ?? '';
  const m = /^PIM-Device ([A-Za-z0-9_.-]+)$/.exec(h);
  if (!m)
    throw unauthorized(
      'device-signature-required',
      'this call must be signed by an enrolled device (Authorization: PIM-Device …)',
    );
  const jws = m[1]!;
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(jws).kid;
  } catch {
    throw unauthorized('device-signature-invalid', 'the device signature is malformed');
  }
  if (typeof kid !== 'string') throw unauthorized('device-signature-invalid', 'the device signature names no key');
  // enrolment is signed by the key being enrolled, which is not registered yet
  const enrolling = pathname === '/api/v1/enrol/start' ? (body as { deviceJwk?: unknown })?.deviceJwk : null;
  const device = enrolling ? null : cp.users.deviceKey(kid);
  const pendingJwk = pathname.startsWith('/api/v1/enrol/') && !enrolling ? cp.enrolment.pendingDeviceJwk(kid) : null;
  const jwk = (enrolling ?? device?.jwk ?? pendingJwk) as never;
  if (!jwk) throw unauthorized('unknown-device', 'this device is not enrolled (or was revoked): run `pim enroll`');
  let verified: { jti: string; exp: number };
  try {
    verified = await verifyDeviceRequest(jws, jwk, {
      htm: req.method === 'HEAD' ? 'GET' : req.method!,
      htu: pathname,
      bodySha256: bodySha256(raw),
      now: cp.clockNow(),
    });
  } catch (e) {
    if (e instanceof DeviceJwsError) {
      const code =
        e.code === 'expired'
          ? 'device-signature-expired'
          : e.code === 'mismatch'
            ? 'device-signature-mismatch'
            : 'device-signature-invalid';
      throw unauthorized(code, e.message);
    }
    throw e;
  }
  if (!cp.users.rememberJti(verified.jti, verified.exp))
    throw unauthorized('device-signature-replayed', 'this device signature was already used (replay)');
  if (device) return { email: device.email, device: kid };
  return { email: '', device: kid };
}
