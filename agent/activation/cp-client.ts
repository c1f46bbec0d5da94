// The agent's client for the control plane's /api/v1: JSON in and out, every call signed with the
// device key (method, path, body hash; one-time jti), errors surfaced with the server's code.
// `gzip: true` sends the body compressed (Content-Encoding: gzip); the signature's body hash then
// covers the compressed bytes, exactly as they travel.
// `request(name, …)` is the way to call: the route, its path, what it takes and what it answers come
// from the contract (shared/contracts/control-plane.ts), and every reply is parsed against it.
import { gzipSync } from 'node:zlib';
import {
  controlPlaneRoutes,
  describeIssues,
  pathFor,
  routeLabel,
  type RouteBody,
  type RouteName,
  type RouteOutput,
  type RouteParams,
  type RouteQuery,
} from '../../shared/contracts/control-plane';
import { bodySha256 } from '../../shared/device-jws';
import { PimError, errorCause, errorCode, errorName } from '../../shared/errors';
import { signDeviceRequest, type DeviceKey } from '../keystore/device-key';
import { numberSetting } from '../../shared/settings';

/** The agent's own reasons a call failed, plus whatever code the control plane refused with
 *  (server/api/errors.ts, ApiErrorCode): those pass through as it sent them, so a newer control
 *  plane's codes still reach the UI. `status` is the HTTP status, 0 when there was no answer. */
export type ControlPlaneErrorCode =
  'not-enrolled' | 'aborted' | 'unreachable' | 'garbage' | 'http-error' | (string & Record<never, never>);

export class ControlPlaneError extends PimError<ControlPlaneErrorCode> {
  constructor(
    code: ControlPlaneErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

/** The control plane answered, but not what the contract says this route answers (an older or
 *  newer server, a proxy, a man in the middle): refused rather than used. */
export class ControlPlaneContractError extends ControlPlaneError {
  constructor(
    readonly route: RouteName,
    /** "state: Invalid option: …": the fields that do not match */
    readonly problem: string,
    status: number,
  ) {
    super(
      'bad-reply',
      `control plane reply to ${routeLabel(route)} does not match the contract: ${problem}`.slice(0, 500),
      status,
    );
  }
}

/** What a call of route N takes: its path parameters (when it has any), query and body (when it
 *  takes one). */
export type RequestInput<N extends RouteName> = (Record<never, never> extends RouteParams<N>
  ? { params?: RouteParams<N> }
  : { params: RouteParams<N> }) &
  (RouteBody<N> extends undefined ? { body?: undefined } : { body: RouteBody<N> }) & { query?: RouteQuery<N> };

export interface CallOptions {
  /** send the body gzip-compressed (the route must take it: the audit sync) */
  gzip?: boolean;
  /** how long the server was asked to hold this call (a long poll) */
  holdMs?: number;
  signal?: AbortSignal;
}

/** How long one ordinary call may take before it is given up: 15 s, or PIM_HTTP_TIMEOUT_MS (tests,
 *  slow links). A long poll adds the time it asks the server to hold it (see `call`). */
export function callTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return numberSetting(env, 'PIM_HTTP_TIMEOUT_MS');
}

export class ControlPlaneClient {
  constructor(
    readonly server: string,
    private readonly key: DeviceKey | null,
    private readonly timeoutMs = callTimeoutMs(),
  ) {}

  /** Calls route `name` of the contract: builds its path from `params`, signs it unless it is a
   *  ceremony call, and parses the reply with the route's output schema — a reply that does not
   *  match is a ControlPlaneContractError, never a value of the wrong shape. */
  async request<N extends RouteName>(name: N, input: RequestInput<N>, opts: CallOptions = {}): Promise<RouteOutput<N>> {
    const spec = controlPlaneRoutes[name];
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(input.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const q = query.toString() ? `?${query}` : '';
    const path = pathFor(spec, input.params ?? {}) + q;
    const { value, status } = await this.send(spec.method, path, input.body, {
      ...opts,
      sign: spec.auth !== 'ceremony',
    });
    const parsed = spec.output.safeParse(value);
    if (!parsed.success) throw new ControlPlaneContractError(name, describeIssues(parsed.error), status);
    // parsed by this very route's schema; TS cannot follow `name` through the indexed schema
    return parsed.data as RouteOutput<N>;
  }

  /** @deprecated the reply is cast, not checked: use `request(route, …)`, which parses it with the
   *  contract. Kept only for tests that send raw or malformed calls; the agent itself never calls it. */
  async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    opts: { sign?: boolean; gzip?: boolean; holdMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    return (await this.send(method, path, body, opts)).value as T;
  }

  /** `holdMs`: how long the server was asked to hold this call (a long poll); the call's own timeout
   *  is that plus the ordinary one, so the client never aborts a poll the server is still holding. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    opts: CallOptions & { sign?: boolean },
  ): Promise<{ value: unknown; status: number }> {
    const json = body === undefined ? '' : JSON.stringify(body);
    const raw: string | Uint8Array<ArrayBuffer> = json && opts.gzip ? new Uint8Array(gzipSync(json)) : json;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (json) headers['content-type'] = 'application/json';
    if (json && opts.gzip) headers['content-encoding'] = 'gzip';
    if (opts.sign !== false) {
      if (!this.key)
        throw new ControlPlaneError('not-enrolled', 'this agent has no device key: run `pim enroll LINK`', 0);
      // the signature covers the path (not the query, which only tunes long polls)
      headers.authorization = `PIM-Device ${await signDeviceRequest(this.key, { htm: method, htu: path.split('?')[0]!, bodySha256: bodySha256(raw) })}`;
    }
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, {
        method,
        headers,
        body: raw.length ? raw : undefined,
        signal: opts.signal
          ? AbortSignal.any([opts.signal, AbortSignal.timeout(this.timeoutMs + (opts.holdMs ?? 0))])
          : AbortSignal.timeout(this.timeoutMs + (opts.holdMs ?? 0)),
        redirect: 'error',
      });
    } catch (e) {
      if (opts.signal?.aborted) throw new ControlPlaneError('aborted', 'stopped waiting', 0);
      const cause = errorCode(errorCause(e)) ?? errorName(e);
      throw new ControlPlaneError('unreachable', `cannot reach the control plane at ${this.server} (${cause})`, 0);
    }
    let payload: { ok?: boolean; value?: unknown; error?: { code?: string; message?: string } };
    try {
      payload = (await res.json()) as typeof payload;
    } catch {
      throw new ControlPlaneError(
        'garbage',
        `the control plane answered HTTP ${res.status} with something that is not JSON`,
        res.status,
      );
    }
    if (!res.ok || payload.ok !== true) {
      throw new ControlPlaneError(
        String(payload.error?.code ?? 'http-error'),
        String(payload.error?.message ?? `HTTP ${res.status}`).slice(0, 500),
        res.status,
      );
    }
    return { value: payload.value, status: res.status };
  }
}
