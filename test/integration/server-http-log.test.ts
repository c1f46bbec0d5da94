// The Fastify request log of `pim-server serve` (off unless asked for): JSON lines with a request id,
// the method, the route's pattern and the status — never a header (the device signature), a body, or
// the ids a ceremony path carries.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { serve } from '../../server/http';
import { makeRepo } from '../helpers/repo';

test('the request log names the request id, method, route pattern and status, and nothing secret', async () => {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => lines.push(...d.toString('utf8').split('\n').filter(Boolean)));
  const srv = await serve(makeRepo().dir, { host: '127.0.0.1', port: 0, httpLog: { level: 'info', stream } });
  after(() => srv.close());
  const nonce = 'c'.repeat(64);
  const res = await fetch(`${srv.url}/api/v1/ceremony/approval/${nonce}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'PIM-Device secret.jws.here', cookie: 'c=secret' },
    body: JSON.stringify({ response: { id: 'secret-body' } }),
  });
  const id = res.headers.get('x-request-id');
  assert.ok(id, 'the response names its request id');
  await res.text();
  await new Promise((r) => setTimeout(r, 50));
  const text = lines.join('\n');
  assert.doesNotMatch(text, /secret|cccccccc/);
  const done = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => 'res' in l);
  assert.ok(done, text);
  assert.equal(done.reqId, id);
  assert.deepEqual(done.res, { statusCode: res.status });
  const started = lines.map((l) => JSON.parse(l) as { req?: unknown }).find((l) => l.req);
  assert.deepEqual(started?.req, { method: 'POST', route: '/api/v1/ceremony/approval/:nonce' });
});
