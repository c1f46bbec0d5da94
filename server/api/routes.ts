// The control plane's JSON API (/api/v1/…). Agent calls carry a device signature:
//   Authorization: PIM-Device <compact JWS over method, path and body hash>  (shared/device-jws)
// Ceremony calls (/api/v1/ceremony/…) come from the page the security key is touched on; they
// need no device signature because the WebAuthn challenge itself binds them to one request.
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { bodySha256, DeviceJwsError, verifyDeviceRequest } from '../../shared/device-jws';
import type { z } from 'zod';
import {
  controlPlaneRoutes,
  describeIssues,
  isRouteName,
  type ControlPlaneRoutes,
  type RouteBodyChecked,
  type RouteName,
  type RouteParams,
  type RouteQuery,
  type RouteReply,
  type RouteSpec,
} from '../../shared/contracts/control-plane';
import type { Caller, ControlPlane } from '../control-plane';
import { bad, refuse, unauthorized } from './errors';
import { decodedPath } from './request-path';
import { errorCode } from '../../shared/errors';

export const MAX_BODY = 256 * 1024;
/** audit batches: what may arrive on the wire (compressed or not) … */
const MAX_AUDIT_BODY = 16 * 1024 * 1024;
/** … and what a gzip body may inflate to */
const MAX_AUDIT_INFLATED = 64 * 1024 * 1024;
/** past its limit a body is read and dropped (so the client, still sending, can read the 413 rather
 *  than meet a reset), up to this many bytes more; beyond that the connection is cut. Small: the
 *  ceremony and enrolment routes take unauthenticated bodies, and each oversized one would otherwise
 *  make the server read this much for nothing */
const MAX_DISCARD = 1024 * 1024;

/** what a handler is given: the checked params, query and body, and who signed the call (routes
 *  that are not ceremony calls) */
type Ctx<N extends RouteName> = {
  cp: ControlPlane;
  params: RouteParams<N>;
  query: RouteQuery<N>;
  body: RouteBodyChecked<N>;
  /** aborted when the client goes away before the answer was sent (long polls stop waiting) */
  closed: () => AbortSignal;
} & (ControlPlaneRoutes[N]['auth'] extends 'ceremony' ? unknown : { caller: Caller });

/** Each route's handler answers with the contract's reply type: a handler that returns something
 *  else does not compile, so the server cannot drift from what agents parse. */
type Handlers = { [N in RouteName]: (ctx: Ctx<N>) => RouteReply<N> | Promise<RouteReply<N>> };

/** How a route's body travels, where it differs from the default (MAX_BODY, not compressed). */
interface Transport {
  /** largest body read (bytes on the wire) */
  maxBody: number;
  /** accepts Content-Encoding: gzip, inflated to at most this many bytes (after the device signature,
   *  which covers the compressed bytes, was checked) */
  gzipMax?: number;
}
const transports: Partial<Record<RouteName, Transport>> = {
  ingestAudit: { maxBody: MAX_AUDIT_BODY, gzipMax: MAX_AUDIT_INFLATED },
};

// The ceremony responses are only checked to be objects here: WebAuthn verification
// (server/webauthn.ts) reads each of their fields and names what is wrong.
const webauthnResponse = <T>(response: object): T => response as T;

const handlers: Handlers = {
  startEnrolment: ({ cp, body, caller }) => cp.enrolment.start(body.code, body.deviceJwk, caller.device),
  enrolmentStatus: ({ cp, params, caller }) => cp.enrolment.status(params.id, caller.device),
  enrolmentCeremony: ({ cp, params }) => cp.enrolment.ceremony(params.id),
  finishEnrolment: ({ cp, params, body }) => cp.enrolment.finish(params.id, webauthnResponse(body.response)),
  createActivation: ({ cp, body, caller }) => cp.activations.create(caller, body.request),
  listActivations: ({ cp, caller }) => cp.activations.list(caller),
  getActivation: ({ cp, params, query, caller, closed }) => {
    if (!query.wait) return cp.activations.get(caller, params.id);
    const timeout = Math.min(30, Math.max(0, Number(query.timeout ?? 25) || 0));
    return cp.activations.waitForChange(caller, params.id, query.wait, timeout * 1000, closed());
  },
  deactivateActivation: ({ cp, params, caller }) => cp.activations.deactivate(caller, params.id),
  issueCredentials: ({ cp, params, caller }) => cp.issuance.issue(caller, params.id),
  activationEvidence: ({ cp, params, caller }) => cp.activations.evidenceFor(caller, params.id),
  ingestAudit: ({ cp, body, caller }) => cp.audit.ingest(caller.device, body.records),
  auditHead: ({ cp, caller }) => cp.audit.head(caller.device),
  activationCeremony: ({ cp, params }) => cp.activations.ceremony(params.id),
  signActivation: ({ cp, params, body }) => cp.activations.submitAssertion(params.id, webauthnResponse(body.response)),
  pendingApprovals: ({ cp, caller }) => cp.approvals.pending(caller),
  decideApproval: ({ cp, params, body, caller }) =>
    cp.approvals.challenge(caller, params.id, body.decision, body.reason ?? null),
  approvalCeremony: ({ cp, params }) => cp.approvals.ceremony(params.nonce),
  signApproval: ({ cp, params, body }) => cp.approvals.submitAssertion(params.nonce, webauthnResponse(body.response)),
};

/** The routes the server answers, in the contract's order (tests check the two agree). */
export const servedRoutes: readonly RouteName[] = Object.keys(handlers).filter(isRouteName);

/** Runs a route's handler with what was checked against that same route's schemas: the one place
 *  the checked values meet the handler's types (which the contract derives from those schemas). */
function dispatch(
  name: RouteName,
  ctx: {
    cp: ControlPlane;
    params: unknown;
    query: unknown;
    body: unknown;
    caller: Caller | null;
    closed: () => AbortSignal;
  },
): unknown {
  const handler = handlers[name] as (ctx: unknown) => unknown;
  return handler(ctx);
}

/** The key an enrolment names (checked by the contract to be a JWK-shaped object). */
function deviceJwkOf(body: unknown): Record<string, unknown> | null {
  const jwk = body && typeof body === 'object' && 'deviceJwk' in body ? body.deviceJwk : null;
  return jwk && typeof jwk === 'object' ? { ...jwk } : null;
}

/** `value` checked against `schema`, or a 400 bad-input naming the field that is wrong. */
function checked(schema: z.ZodType, value: unknown, what: string): unknown {
  const r = schema.safeParse(value);
  if (!r.success) throw bad('bad-input', describeIssues(r.error, what));
  return r.data;
}

/** Registers every route of the contract on `app`, each answering `{ ok: true, value }` from its
 *  handler above; refusals are thrown and answered by the server's one error handler
 *  (server/http.ts, `apiError`). `cp` is null until the server knows its public URL. */
export function registerApi(app: FastifyInstance, getCp: () => ControlPlane | null): void {
  for (const name of servedRoutes) {
    const spec: RouteSpec = controlPlaneRoutes[name];
    const transport = transports[name];
    app.route({
      method: spec.method,
      url: spec.path,
      // Fastify's body limit: read by rawBodyParser (a larger body is drained, then 413)
      bodyLimit: transport?.maxBody ?? MAX_BODY,
      handler: async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const cp = getCp();
        if (!cp) throw refuse('starting', 'the control plane is starting');
        const value = await answer(cp, name, spec, transport, request, reply);
        return { ok: true, value };
      },
    });
  }
}

/** One call of route `name`: the encoding, params and query checked, the caller authenticated, the
 *  body parsed and checked (in that order), then the handler. */
async function answer(
  cp: ControlPlane,
  name: RouteName,
  spec: RouteSpec,
  transport: Transport | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  // the body as it came (rawBodyParser), for the device signature; none for a GET
  const raw = Buffer.isBuffer(request.body) ? request.body : EMPTY;
  // the decoded path, as the device signed it (htu)
  const pathname = requestPath(request.url);
  const encoding = String(request.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  let text = raw;
  const gzip = encoding === 'gzip';
  if (encoding !== 'identity' && encoding !== '' && !(gzip && transport?.gzipMax)) {
    throw refuse(
      'unsupported-encoding',
      `this route does not accept Content-Encoding: ${encoding.slice(0, 40)}${transport?.gzipMax ? ' (gzip only)' : ''}`,
    );
  }
  // the path and query are checked first, as matching the path always was; the body only once
  // the caller is known (below)
  const params = checked(spec.params, request.params, 'params');
  const query = checked(spec.query, request.query, 'query');
  let caller: Caller | null = null;
  if (transport?.gzipMax) {
    // large bodies: only an enrolled device makes the server inflate or parse them. The
    // signature covers the bytes as they came (compressed, when they are)
    caller = await authenticate(cp, request, pathname, raw, null);
    if (gzip) text = inflate(raw, transport.gzipMax);
  }
  let json: unknown = {};
  if (text.length) {
    try {
      json = JSON.parse(text.toString('utf8'));
    } catch {
      throw bad('bad-json', 'the request body is not JSON');
    }
  }
  let body: unknown = undefined;
  if (spec.auth === 'new-device') {
    // signed by the key it asks to enrol: the body names that key, so it is checked first
    body = spec.body ? checked(spec.body, json, 'body') : undefined;
    caller = await authenticate(cp, request, pathname, raw, deviceJwkOf(body));
  } else if (spec.auth === 'device') {
    // who is asking comes before what they send: a stranger's body is not looked at
    caller ??= await authenticate(cp, request, pathname, raw, null);
    body = spec.body ? checked(spec.body, json, 'body') : undefined;
  } else body = spec.body ? checked(spec.body, json, 'body') : undefined;
  return dispatch(name, { cp, params, query, body, caller, closed: closedSignal(reply) });
}

const EMPTY = Buffer.alloc(0);

/** The decoded path, as the device signed it (htu). */
function requestPath(url: string): string {
  const p = decodedPath(url);
  if (p === null) throw bad('bad-request', 'the request path is not valid');
  return p;
}

/** A signal aborted when the client goes away before its answer was sent (a long poll it gave up
 *  on); a function, so only the calls that wait pay for it. The response's 'close' is the one that means the
 *  connection: the request's fires as soon as its body was read. */
function closedSignal(reply: FastifyReply): () => AbortSignal {
  return () => {
    const c = new AbortController();
    const res = reply.raw;
    if (res.destroyed && !res.writableFinished) c.abort();
    else res.once('close', () => !res.writableFinished && c.abort());
    return c.signal;
  };
}

/** The body of a JSON route as the bytes that came (the device signature covers them exactly),
 *  at most the route's Fastify `bodyLimit`. A larger one is refused with 413 once it has been read
 *  to its end (dropped as it comes), so the answer reaches a client that is still sending; past
 *  MAX_DISCARD more the connection is cut. Registered as the server's application/json parser. */
export function rawBodyParser(request: FastifyRequest, payload: IncomingMessage): Promise<Buffer> {
  const max = request.routeOptions.bodyLimit ?? MAX_BODY;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    payload.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (chunks.length) chunks.length = 0;
      if (size > max + MAX_DISCARD) payload.destroy();
    });
    payload.on('end', () =>
      size > max
        ? reject(refuse('too-large', `the request body is larger than ${Math.floor(max / 1024)} KiB`))
        : resolve(Buffer.concat(chunks)),
    );
    payload.on('error', reject);
    // cut off (past MAX_DISCARD, or by the client): settle, or the handler would wait forever
    payload.on('close', () => reject(refuse('too-large', 'the request body was cut off')));
  });
}

/** A body still unread when the answer is about to be sent (a 415, or a GET's body, answered
 *  before it was looked at) is drained so a client still sending reads the answer rather than a
 *  reset, but at most MAX_DISCARD bytes: then the connection is cut. Called before the answer is
 *  written: node's own drain of an unread body, once the answer is sent, has no limit. */
export function capUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.readableFlowing !== null) return;
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_DISCARD) req.destroy();
  });
}

function inflate(raw: Buffer, max: number): Buffer {
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: max });
  } catch (e) {
    if (errorCode(e) === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw refuse(
        'too-large',
        `the request body inflates to more than ${max / (1024 * 1024)} MiB; send smaller batches`,
      );
    }
    throw bad('bad-gzip', 'the request body is not valid gzip');
  }
}

/** Who sent this: the device whose key signed the request (method, path, body), seen once. */
async function authenticate(
  cp: ControlPlane,
  req: FastifyRequest,
  pathname: string,
  raw: Buffer,
  /** the key being enrolled (POST /api/v1/enrol/start), which signs its own request */
  enrolling: Record<string, unknown> | null,
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
  const device = enrolling ? null : cp.users.deviceKey(kid);
  const pendingJwk = pathname.startsWith('/api/v1/enrol/') && !enrolling ? cp.enrolment.pendingDeviceJwk(kid) : null;
  const jwk = (enrolling ?? device?.jwk ?? pendingJwk) as never;
  if (!jwk) throw unauthorized('unknown-device', 'this device is not enrolled (or was revoked): run `pim enroll`');
  let verified: { jti: string; exp: number };
  try {
    verified = await verifyDeviceRequest(jws, jwk, {
      htm: req.method === 'HEAD' ? 'GET' : req.method,
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
