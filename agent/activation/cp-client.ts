// The agent's client for the control plane's /api/v1: JSON in and out, every call signed with the
// device key (method, path, body hash; one-time jti), errors surfaced with the server's code.
// `gzip: true` sends the body compressed (Content-Encoding: gzip); the signature's body hash then
// covers the compressed bytes, exactly as they travel.
import { gzipSync } from 'node:zlib';
import { bodySha256 } from '../../shared/device-jws';
import { PimError } from '../../shared/errors';
import { signDeviceRequest, type DeviceKey } from '../keystore/device-key';

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

/** How long one ordinary call may take before it is given up: 15 s, or PIM_HTTP_TIMEOUT_MS (tests,
 *  slow links). A long poll adds the time it asks the server to hold it (see `call`). */
export function callTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.PIM_HTTP_TIMEOUT_MS);
  return Number.isInteger(v) && v > 0 ? v : 15_000;
}

export class ControlPlaneClient {
  constructor(
    readonly server: string,
    private readonly key: DeviceKey | null,
    private readonly timeoutMs = callTimeoutMs(),
  ) {}

  /** `holdMs`: how long the server was asked to hold this call (a long poll); the call's own timeout
   *  is that plus the ordinary one, so the client never aborts a poll the server is still holding. */
  async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    opts: { sign?: boolean; gzip?: boolean; holdMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
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
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new ControlPlaneError('unreachable', `cannot reach the control plane at ${this.server} (${cause})`, 0);
    }
    let payload: { ok?: boolean; value?: T; error?: { code?: string; message?: string } };
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
    return payload.value as T;
  }
}
