// The agent's client for the control plane's /api/v1: JSON in and out, every call signed with the
// device key (method, path, body hash; one-time jti), errors surfaced with the server's code.
// `gzip: true` sends the body compressed (Content-Encoding: gzip); the signature's body hash then
// covers the compressed bytes, exactly as they travel.
import { gzipSync } from 'node:zlib';
import { bodySha256 } from '../../../shared/device-jws';
import { signDeviceRequest, type DeviceKey } from '../keystore/device-key';

export class ControlPlaneError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class ControlPlaneClient {
  constructor(
    readonly server: string,
    private readonly key: DeviceKey | null,
    private readonly timeoutMs = 15_000,
  ) {}

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, opts: { sign?: boolean; gzip?: boolean } = {}): Promise<T> {
    const json = body === undefined ? '' : JSON.stringify(body);
    const raw: string | Uint8Array<ArrayBuffer> = json && opts.gzip ? new Uint8Array(gzipSync(json)) : json;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (json) headers['content-type'] = 'application/json';
    if (json && opts.gzip) headers['content-encoding'] = 'gzip';
    if (opts.sign !== false) {
      if (!this.key) throw new ControlPlaneError('not-enrolled', 'this agent has no device key: run `pim enroll LINK`', 0);
      // the signature covers the path (not the query, which only tunes long polls)
      headers.authorization = `PIM-Device ${await signDeviceRequest(this.key, { htm: method, htu: path.split('?')[0]!, bodySha256: bodySha256(raw) })}`;
    }
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, { method, headers, body: raw.length ? raw : undefined, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new ControlPlaneError('unreachable', `cannot reach the control plane at ${this.server} (${cause})`, 0);
    }
    let payload: { ok?: boolean; value?: T; error?: { code?: string; message?: string } };
    try {
      payload = (await res.json()) as typeof payload;
    } catch {
      throw new ControlPlaneError('garbage', `the control plane answered HTTP ${res.status} with something that is not JSON`, res.status);
    }
    if (!res.ok || payload.ok !== true) {
      throw new ControlPlaneError(String(payload.error?.code ?? 'http-error'), String(payload.error?.message ?? `HTTP ${res.status}`).slice(0, 500), res.status);
    }
    return payload.value as T;
  }
}
