// A loopback TCP proxy in front of the control plane, for fault tests. Each accepted connection
// gets the mode set when it arrived (see setMode); a fault applies to the first HTTP request on its
// connection, which is the one the agent's sync makes first (POST /api/v1/audit when records are
// pending). Modes:
//   pass                  forward both ways
//   cut-mid-response      forward the request, then destroy the client socket after `cutAfter`
//                         bytes of the server's response (the server has processed the request)
//   black-hole            accept and read, never answer (the client times out)
//   swallow-response      forward the request, drop the server's answer, never answer the client
//                         (the server committed; the client times out or is killed)
//   answer-500 / answer-garbage
//                         do not forward; answer HTTP 500, or `body` (raw bytes: any garbage)
//   forward-then-500 / forward-then-garbage
//                         forward the request, and once the server starts answering (it committed),
//                         answer the client HTTP 500 / `body` instead
// It listens on 127.0.0.1 only, and only ever connects to 127.0.0.1.
import { EventEmitter } from 'node:events';
import net from 'node:net';

export type ProxyMode =
  | 'pass'
  | 'cut-mid-response'
  | 'black-hole'
  | 'swallow-response'
  | 'answer-500'
  | 'answer-garbage'
  | 'forward-then-500'
  | 'forward-then-garbage';

export interface ModeOptions {
  /** cut-mid-response: response bytes the client receives before its socket is destroyed … */
  cutAfter?: number;
  /** … or that fraction (0–1) of the server's first answer chunk (default 0.5) */
  cutFraction?: number;
  /** *-garbage: what the client receives (a whole raw answer, headers included, or anything) */
  body?: string | Buffer;
  /** how many connections get this mode before the proxy falls back to pass (default: all) */
  times?: number;
}

export interface ProxiedRequest {
  conn: number;
  method: string;
  path: string;
  /** body bytes (Content-Length) */
  length: number;
}

export const HTTP_500 =
  'HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 78\r\n\r\n' +
  JSON.stringify({ ok: false, error: { code: 'internal', message: 'injected fault: HTTP 500 (proxy)' } }).padEnd(78);

/** A full HTTP answer with a 200 status, `json` as its body. */
export function http200(json: string): string {
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

/** Parses the HTTP requests a client sends on one connection (Content-Length bodies only, which is
 *  what the agent's fetch sends), calling `onRequest` once a request is complete. */
class RequestParser {
  private buf = Buffer.alloc(0);
  private head: { method: string; path: string; length: number } | null = null;

  constructor(private readonly onRequest: (r: { method: string; path: string; length: number }) => void) {}

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (!this.head) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', p = ''] = (lines[0] ?? '').split(' ');
        const cl = lines.find((l) => /^content-length:/i.test(l));
        this.head = { method, path: p, length: cl ? Number(cl.split(':')[1]!.trim()) || 0 : 0 };
        this.buf = this.buf.subarray(end + 4);
      }
      if (this.buf.length < this.head.length) return;
      this.buf = this.buf.subarray(this.head.length);
      const done = this.head;
      this.head = null;
      this.onRequest(done);
    }
  }
}

/**
 * Events: 'request' (ProxiedRequest) when a whole request went upstream (or was taken, in modes
 * that do not forward); 'response' ({ conn, bytes }) when the server's first answer bytes reached
 * the proxy (so it committed what it answers); 'fault' ({ conn, mode }) when a fault was applied.
 */
export class TcpProxy extends EventEmitter {
  /** the port the control plane listens on (may change while the proxy runs) */
  target: number;
  private mode: ProxyMode = 'pass';
  private opts: ModeOptions = {};
  private left = Infinity;
  private nextConn = 1;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    target: number,
  ) {
    super();
    this.target = target;
  }

  static async start(target = 0): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (c) => proxy.accept(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The URL agents use (localhost: the WebAuthn relying party needs a host name). */
  get url(): string {
    return `http://localhost:${this.port}`;
  }

  /** The mode new connections get (connections already open keep theirs). */
  setMode(mode: ProxyMode, opts: ModeOptions = {}): void {
    this.mode = mode;
    this.opts = opts;
    this.left = opts.times ?? Infinity;
  }

  /** Drops every open connection (both sides). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: net.Socket): net.Socket {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
    return s;
  }

  private accept(client: net.Socket): void {
    this.track(client);
    const conn = this.nextConn++;
    let mode: ProxyMode = 'pass';
    let opts: ModeOptions = {};
    if (this.mode !== 'pass' && this.left > 0) {
      mode = this.mode;
      opts = this.opts;
      this.left--;
      if (this.left === 0) this.setMode('pass');
    }
    let requests = 0;
    const parser = new RequestParser((r) => {
      requests++;
      this.emit('request', { conn, ...r } satisfies ProxiedRequest);
      if (requests === 1 && (mode === 'answer-500' || mode === 'answer-garbage')) {
        this.emit('fault', { conn, mode });
        client.end(mode === 'answer-500' ? HTTP_500 : (opts.body ?? 'garbage'));
      }
    });
    client.on('data', (d: Buffer) => parser.push(d));
    if (mode === 'black-hole' || mode === 'answer-500' || mode === 'answer-garbage') {
      if (mode === 'black-hole') this.emit('fault', { conn, mode });
      return; // never connects upstream
    }

    const upstream = this.track(net.connect({ host: '127.0.0.1', port: this.target }));
    client.pause();
    upstream.on('connect', () => client.resume());
    client.on('data', (d: Buffer) => upstream.write(d));
    client.on('end', () => upstream.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // the server went away: so does the client's connection (unless it is being held open)
      if (mode !== 'swallow-response') client.destroy();
    });
    let answered = 0;
    let faulted = false;
    let cut = 0;
    upstream.on('data', (d: Buffer) => {
      if (answered === 0) {
        this.emit('response', { conn, bytes: d.length });
        cut = Math.max(0, opts.cutAfter ?? Math.floor((opts.cutFraction ?? 0.5) * (d.length - 1)));
      }
      answered += d.length;
      switch (mode) {
        case 'pass':
          client.write(d);
          return;
        case 'cut-mid-response': {
          if (faulted) return;
          const before = answered - d.length;
          if (answered <= cut) {
            client.write(d);
            return;
          }
          faulted = true;
          this.emit('fault', { conn, mode });
          const part = d.subarray(0, Math.max(0, cut - before));
          if (part.length) client.write(part, () => client.destroy());
          else client.destroy();
          upstream.destroy();
          return;
        }
        case 'swallow-response':
          if (!faulted) this.emit('fault', { conn, mode });
          faulted = true;
          return;
        case 'forward-then-500':
        case 'forward-then-garbage':
          if (faulted) return;
          faulted = true;
          this.emit('fault', { conn, mode });
          client.end(mode === 'forward-then-500' ? HTTP_500 : (opts.body ?? 'garbage'));
          upstream.destroy();
          return;
      }
    });
  }
}
