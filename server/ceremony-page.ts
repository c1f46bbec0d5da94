// The WebAuthn ceremony page (renderer/ceremony, built into dist/ceremony), served at the control plane's own origin
// (docs/architecture.md, Decisions: WebAuthn origin): /ceremony/(enrol|activation|approval)/<id> is the page itself,
// /ceremony/app.js and /ceremony/styles.css its assets. Strict headers: nothing but this origin's script, style and
// API; never framed; no referrer (ceremony URLs carry their ids); never cached.
import fs from 'node:fs';
import path from 'node:path';
import { decodedPath } from './api/request-path';
import type { FastifyInstance } from 'fastify';

const PAGE = /^\/ceremony\/(?:(?:enrol|activation)\/[A-Za-z0-9_-]{1,64}|approval\/[0-9a-f]{64})$/;
const ASSETS: Record<string, { file: string; type: string }> = {
  '/ceremony/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ceremony/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
};

export const CEREMONY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy':
    'publickey-credentials-get=(self), publickey-credentials-create=(self), camera=(), microphone=(), geolocation=()',
};

/** Where `npm run build` puts the page: <package root>/dist/ceremony, from server/ (tsx) or dist/ (bundled). */
export function ceremonyDistDir(): string {
  return path.resolve(__dirname, '..', 'dist', 'ceremony');
}

/** Serves the ceremony page at /ceremony/…: GET (and HEAD) of the page's paths; any other path
 *  under /ceremony/ is the server's 404. */
export function registerCeremonyPages(app: FastifyInstance, distDir: string): void {
  app.get('/ceremony/*', (request, reply) => {
    const pathname = decodedPath(request.url);
    const asset = pathname === null ? undefined : ceremonyAsset(pathname);
    if (!asset) return reply.callNotFound();
    const file = path.join(distDir, asset.file);
    fs.readFile(file, (err, data) => {
      if (err) {
        reply
          .code(500)
          .headers({ ...CEREMONY_HEADERS, 'content-type': 'text/plain; charset=utf-8' })
          .send(`the ceremony page is not built (${asset.file} missing in ${distDir}): run npm run build\n`);
        return;
      }
      reply
        .code(200)
        .headers({ ...CEREMONY_HEADERS, 'content-type': asset.type })
        .send(data);
    });
    return reply;
  });
}

/** The file a ceremony path is served from, or undefined. `pathname` is the decoded path, without the query. */
function ceremonyAsset(pathname: string): { file: string; type: string } | undefined {
  return PAGE.test(pathname) ? { file: 'index.html', type: 'text/html; charset=utf-8' } : ASSETS[pathname];
}
