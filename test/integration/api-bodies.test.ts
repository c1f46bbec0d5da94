// Issue 10, smaller items, over real HTTP: what a client sends that the API does not take is
// answered with a JSON error it can read — 413 for a body past the limit (not a connection reset),
// 415 for a body that is not declared JSON.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'vitest';
import { makeRepo, serveRepo } from '../helpers/repo';

async function post(url: string, body: string | Uint8Array<ArrayBuffer>, type: string | null) {
  const res = await fetch(url, { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
  return { status: res.status, json: (await res.json()) as { ok: boolean; error?: { code: string; message: string } } };
}

test('an oversized body is answered 413 with a JSON error, not a connection reset', async () => {
  const srv = await serveRepo(makeRepo().dir);
  // 1 MiB against a 256 KiB limit: the client is still sending when the limit is passed
  const big = new Uint8Array(1024 * 1024).fill(0x20);
  for (const path of ['/api/v1/activations', '/api/v1/ceremony/activation/abc']) {
    const r = await post(srv.url + path, big, 'application/json');
    assert.equal(r.status, 413, path);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.error?.code, 'too-large');
    assert.match(r.json.error?.message ?? '', /larger than 256 KiB/);
  }
  // the server is still fine afterwards
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});

test('a JSON endpoint answers 415 to a body not sent as application/json', async () => {
  const srv = await serveRepo(makeRepo().dir);
  const body = JSON.stringify({ response: { id: 'x' } });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', null]) {
    const r = await post(`${srv.url}/api/v1/ceremony/activation/abc`, body, type);
    assert.equal(r.status, 415, String(type));
    assert.equal(r.json.error?.code, 'unsupported-media-type');
  }
  // declared JSON (with a charset) gets past the check to the route itself
  const ok = await post(`${srv.url}/api/v1/ceremony/activation/abc`, body, 'application/json; charset=utf-8');
  assert.equal(ok.json.error?.code, 'not-found');
});

for (const [what, type] of [
  ['an unauthenticated oversized body', 'application/json'],
  ['a body refused unread (415)', 'text/plain'],
] as const)
  test(`${what} is read at most about 1 MiB past the limit, then the connection is cut`, async () => {
    await cutOff(type);
  });

async function cutOff(type: string) {
  const srv = await serveRepo(makeRepo().dir);
  const { port } = new URL(srv.url);
  const total = 64 * 1024 * 1024;
  const socket = net.connect(Number(port), '127.0.0.1');
  let closed = false;
  socket.on('error', () => {}); // EPIPE / ECONNRESET once the server cut it: expected
  const gone = new Promise<void>((resolve) => socket.on('close', () => ((closed = true), resolve())));
  socket.on('data', () => {}); // whatever it answers, keep reading so the socket is not held up
  socket.write(
    `POST /api/v1/ceremony/activation/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${total}\r\n\r\n`,
  );
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  // send as fast as the server reads, until it hangs up (or everything was sent: the bug)
  while (!closed && sent < total) {
    sent += chunk.length;
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), gone]);
  }
  if (!closed) socket.end();
  await gone;
  // kernel buffers on both sides hold a few MiB at most; a server discarding everything reads all 64
  assert.ok(
    sent < 16 * 1024 * 1024,
    `the server read ${Math.round(sent / 1024 / 1024)} MiB of an unauthenticated body before hanging up`,
  );
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200, 'the server is still fine');
}
