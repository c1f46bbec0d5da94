// `pim-server serve`: serves the TUF repository (metadata + targets) and a small API, and keeps the
// timestamp fresh while it runs. Read-only over HTTP: nothing a client sends changes the repository.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { paths, readState, refreshTimestamp } from './repo/repository';

const METADATA_NAME = /^(?:[0-9]{1,10}\.)?(?:root|targets|snapshot|timestamp|bin-[0-9a-f]{1,4})\.json$/;
const TARGET_PATH = /^(?:policy|members)\/[0-9a-f]{64}\.[A-Za-z0-9._-]{1,100}$/;

export interface ServeOptions {
  host: string;
  port: number;
  /** how often to check whether the timestamp needs re-signing, ms */
  timestampCheckMs?: number;
  /** false serves the repository exactly as it is on disk (tests use it to play a frozen mirror) */
  keepTimestampFresh?: boolean;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function serve(dir: string, opts: ServeOptions): Promise<RunningServer> {
  readState(dir); // fail early with a clear message when DIR is not a repository
  const p = paths(dir);
  const log = opts.log ?? (() => {});
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string | Buffer, type = 'application/json', cache = 'no-store') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': cache, 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: 'method not allowed' }));
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return send(400, JSON.stringify({ error: 'bad request' }));
    }
    const route = decodeURIComponent(url.pathname);
    if (route === '/healthz') return send(200, JSON.stringify({ ok: true }));
    if (route === '/api/v1/info') {
      const s = readState(dir);
      return send(200, JSON.stringify({ service: 'pim-server', rootVersion: s.rootVersion, policyVersion: s.targetsVersion, policyExpires: s.policyExpires }));
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

  const tick = () => {
    try {
      if (refreshTimestamp(dir)) log(`timestamp re-signed (v${readState(dir).timestampVersion})`);
    } catch (e) {
      log(`timestamp refresh failed: ${(e as Error).message}`);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if (opts.keepTimestampFresh !== false) {
    tick();
    timer = setInterval(tick, opts.timestampCheckMs ?? 60_000);
    timer.unref();
  }
  return {
    url,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
