// The web shell: the same renderer the Electron window shows, served on 127.0.0.1 for browsers
// (and for desktops without a tray). Every API call needs the per-run session token; Host and
// Origin are checked so a web page elsewhere cannot reach it through DNS rebinding.
//
// The session token itself never leaves this process except in the answer to one exchange: the
// browser is opened with a ONE-TIME code (`/#code=…`), and the page trades it, once, for the token
// (POST /session). A browser's command line is readable by every local user in /proc, so what it
// carries must be worthless once used; a code is also worthless after CODE_TTL_MS. The page keeps
// the token in sessionStorage, which is scoped to this origin including its port — unlike a cookie,
// which the browser would also send to any other service on 127.0.0.1, whatever its port.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Dispatch } from '../api/dispatch';

const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/styles.css': 'styles.css',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
const MAX_BODY = 64 * 1024;
/** how long an unused one-time code stays valid */
export const CODE_TTL_MS = 10 * 60_000;

export interface WebShell {
  /** open this: it carries a one-time code in the fragment (never in a server log), exchanged once */
  url: string;
  /** a fresh one-time URL (another browser, or after the first one was used) */
  newUrl(): string;
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** Where `pim ui` shows the person the code that confirms pointing the agent at a control plane. */
export type ConfirmAnnouncer = (code: string, server: string) => void;

export async function startWebShell(opts: {
  dispatch: Dispatch;
  rendererDir: string;
  port?: number;
  now?: () => number;
  announceConfirm?: ConfirmAnnouncer;
}): Promise<WebShell> {
  const token = crypto.randomBytes(32).toString('base64url');
  const expected = Buffer.from(`Bearer ${token}`);
  const now = opts.now ?? Date.now;
  let allowedHosts: Set<string> = new Set();
  // sha256(code) → expiry; a code is deleted when exchanged
  const codes = new Map<string, number>();
  const digest = (code: string) => crypto.createHash('sha256').update(code).digest('hex');
  const issueCode = (): string => {
    const code = crypto.randomBytes(24).toString('base64url');
    codes.set(digest(code), now() + CODE_TTL_MS);
    return code;
  };
  /** true once per code: the first exchange consumes it */
  const redeem = (code: unknown): boolean => {
    for (const [k, exp] of codes) if (exp <= now()) codes.delete(k);
    if (typeof code !== 'string' || code.length > 200) return false;
    return codes.delete(digest(code));
  };

  const switchGate = confirmGate(opts.announceConfirm ?? null, now);

  /** The JSON body of a POST, or null when a reply was already sent (too large, not JSON). */
  const readJson = (
    req: http.IncomingMessage,
    fail: (status: number, code: string, message: string) => void,
    then: (input: unknown) => void,
  ) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        fail(413, 'too-large', 'request body too large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      let input: unknown;
      try {
        input = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return fail(400, 'bad-json', 'request body is not JSON');
      }
      then(input);
    });
  };

  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string | Buffer, type = 'application/json; charset=utf-8') => {
      res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type });
      res.end(body);
    };
    const fail = (status: number, code: string, message: string) =>
      reply(status, JSON.stringify({ ok: false, error: { code, message } }));

    if (!allowedHosts.has(req.headers.host ?? '')) return fail(421, 'bad-host', 'unexpected Host header');
    const url = new URL(req.url ?? '/', 'http://localhost');

    if (req.method === 'GET' && STATIC[url.pathname]) {
      const file = path.join(opts.rendererDir, STATIC[url.pathname]!);
      return fs.readFile(file, (err, data) => {
        if (err) return fail(500, 'ui-missing', `the UI is not built (${file}); run: npm run build`);
        reply(200, data, TYPES[path.extname(file)] ?? 'application/octet-stream');
      });
    }
    const isSession = url.pathname === '/session';
    const m = /^\/api\/([A-Za-z]{1,40})$/.exec(url.pathname);
    if (!m && !isSession) return fail(404, 'not-found', 'not found');
    if (req.method !== 'POST') return fail(405, 'method-not-allowed', 'use POST');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedHosts.has(origin.replace(/^http:\/\//, '')))
      return fail(403, 'bad-origin', 'cross-origin calls are refused');
    if (isSession) {
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
        return fail(415, 'bad-content-type', 'send application/json');
      return readJson(req, fail, (input) => {
        if (!redeem((input as { code?: unknown } | null)?.code)) {
          return fail(
            401,
            'code-used',
            'this PIM Agent UI link was already used, has expired or is not valid: run `pim ui` again for a new one',
          );
        }
        reply(200, JSON.stringify({ ok: true, value: { token } }));
      });
    }
    const auth = Buffer.from(req.headers.authorization ?? '');
    if (auth.length !== expected.length || !crypto.timingSafeEqual(auth, expected))
      return fail(401, 'unauthorized', 'missing or wrong session token: open the URL printed by `pim ui`');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
      return fail(415, 'bad-content-type', 'send application/json');
    readJson(req, fail, (input) => {
      if (m![1] === 'enroll') {
        const gate = switchGate.check(input);
        if (gate) return reply(200, JSON.stringify({ ok: false, error: gate }));
        input = { link: (input as { link: string }).link };
      }
      void opts.dispatch(m![1]!, input).then((r) => reply(200, JSON.stringify(r)));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const origin = `http://127.0.0.1:${port}`;
  const newUrl = () => `${origin}/#code=${issueCode()}`;
  return {
    url: newUrl(),
    newUrl,
    origin,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const CONFIRM_TTL_MS = 5 * 60_000;
const CONFIRM_ATTEMPTS = 5;

/**
 * Enrolling points the agent at a control plane and its trust root. Through the web shell that
 * needs the person's confirmation out of band: a code shown where `pim ui` runs (its terminal),
 * typed into the page. Whoever holds a web shell session without that terminal — another local
 * user who raced the one-time code — cannot re-point the agent silently. Codes are bound to the
 * link, single use, expire, and a few wrong guesses void them.
 */
function confirmGate(announce: ConfirmAnnouncer | null, now: () => number) {
  let pending: { link: string; digest: string; expires: number; attempts: number } | null = null;
  const digest = (code: string) => crypto.createHash('sha256').update(code).digest('hex');
  return {
    /** null: go ahead; otherwise the error to answer */
    check(input: unknown): { code: string; message: string } | null {
      const { link, confirmCode } = (input ?? {}) as { link?: unknown; confirmCode?: unknown };
      if (typeof link !== 'string') return null; // the contract's own validation answers
      let server: string;
      try {
        server = new URL(link.trim()).origin;
      } catch {
        return null;
      }
      if (!announce)
        return {
          code: 'confirm-unavailable',
          message: 'enrolling from the browser needs the terminal that runs `pim ui`; run `pim enroll LINK` instead',
        };
      if (pending && pending.expires <= now()) pending = null;
      if (typeof confirmCode === 'string' && confirmCode.trim() !== '' && pending && pending.link === link) {
        const given = digest(
          confirmCode
            .trim()
            .toUpperCase()
            .replace(/[^A-Z0-9]/g, ''),
        );
        if (crypto.timingSafeEqual(Buffer.from(given), Buffer.from(pending.digest))) {
          pending = null;
          return null;
        }
        if (++pending.attempts >= CONFIRM_ATTEMPTS) pending = null;
        return {
          code: 'confirm-code-wrong',
          message: pending
            ? 'that is not the confirmation code shown where `pim ui` runs; try again'
            : 'too many wrong codes: press Continue again for a new one',
        };
      }
      // a new code, shown only to whoever sees `pim ui`'s terminal
      const code = crypto
        .randomInt(0, 36 ** 8)
        .toString(36)
        .toUpperCase()
        .padStart(8, '0');
      pending = { link, digest: digest(code), expires: now() + CONFIRM_TTL_MS, attempts: 0 };
      announce(`${code.slice(0, 4)}-${code.slice(4)}`, server);
      return {
        code: 'confirm-switch',
        message: `To point PIM Agent at the control plane ${server}, type the confirmation code shown in the terminal where \`pim ui\` runs.`,
      };
    },
  };
}
