// Bad input on both sides: an admin's broken policy never gets published, and a control plane that
// is down or answers nonsense never damages the agent's cached policy.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { MetadataKind } from '@tufjs/models';
import { RefreshError } from '../../agent/policy/errors';
import { loadKeys } from '../../server/repo/keys';
import { signedEnvelope } from '../../server/repo/metadata';
import { publishPolicy, readState, RepoError, writeMetadata } from '../../server/repo/repository';
import { connectedAgent } from '../helpers/agent';
import { EXAMPLE_POLICY, makeRepo, serveRepo } from '../helpers/repo';

async function fakeServer(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  after(
    () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}

async function refreshError(p: Promise<unknown>): Promise<RefreshError> {
  const e = await p.then(
    () => assert.fail('refresh should fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof RefreshError, String(e));
  return e;
}

/** An agent holding a verified v1, then pointed at `server` with the same trust root. */
async function agentWithCache(server: (dir: string) => Promise<string>) {
  const { dir, trustRoot } = makeRepo();
  const good = await serveRepo(dir);
  const agent = await connectedAgent(good.url, trustRoot);
  await agent.refresh();
  const before = agent.store.policy();
  agent.connect({ server: await server(dir), user: 'alice@acme.example', root: trustRoot, unenrolled: true });
  return { agent, before, dir };
}

test('an unreachable server: offline, a clear reason, and the cached policy untouched', async () => {
  const { agent, before } = await agentWithCache(async () => 'http://127.0.0.1:1');
  const e = await refreshError(agent.refresh());
  assert.equal(e.code, 'unreachable');
  assert.equal(e.kind, 'offline');
  assert.match(e.message, /cannot reach the control plane at http:\/\/127\.0\.0\.1:1/);
  assert.deepEqual(agent.store.policy(), before);
  const s = agent.state();
  assert.equal(s.connection, 'offline');
  assert.ok(s.roles.length > 0, 'roles still answered from the cache');
});

test('a server answering garbage is rejected and the cache kept', async () => {
  const { agent, before } = await agentWithCache(() => fakeServer((_q, res) => res.end('<html>hello</html>')));
  const e = await refreshError(agent.refresh());
  assert.equal(e.code, 'garbage');
  assert.equal(e.kind, 'rejected');
  assert.deepEqual(agent.store.policy(), before);
  assert.equal(agent.state().connection, 'rejected');
});

test('an oversized answer is cut off and rejected', async () => {
  const { agent, before } = await agentWithCache(() =>
    fakeServer((q, res) =>
      q.url?.endsWith('timestamp.json')
        ? res.end('{"signed":' + ' '.repeat(64 * 1024) + '}')
        : res.writeHead(404).end(),
    ),
  );
  const e = await refreshError(agent.refresh());
  assert.equal(e.code, 'garbage');
  assert.match(e.message, /larger than/);
  assert.deepEqual(agent.store.policy(), before);
});

test('HTTP 500 counts as the server being unavailable (offline), not as an attack', async () => {
  const { agent, before } = await agentWithCache(() => fakeServer((_q, res) => res.writeHead(500).end('oops')));
  const e = await refreshError(agent.refresh());
  assert.equal(e.kind, 'offline');
  assert.deepEqual(agent.store.policy(), before);
});

test('a control plane with nothing published says so', async () => {
  const { dir, trustRoot } = makeRepo({ publish: false });
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  const e = await refreshError(agent.refresh());
  assert.equal(e.code, 'no-policy');
  assert.match(e.message, /not published a policy/);
});

test('a correctly signed roles file that breaks the schema is refused', async () => {
  const { dir, trustRoot } = makeRepo();
  const v = readState(dir).targetsVersion;
  const bytes = Buffer.from(
    JSON.stringify({ schema: 'pim-roles/v1', roles: [{ name: 'x', sneaky: true }], clusters: [] }),
  );
  const hash = crypto.createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(path.join(dir, 'repo', 'targets', 'policy', `${hash}.roles.json`), bytes);
  const md = JSON.parse(fs.readFileSync(path.join(dir, 'repo', 'metadata', `${v}.targets.json`), 'utf8')) as {
    signed: { targets: Record<string, unknown> };
  };
  md.signed.targets['policy/roles.json'] = { length: bytes.length, hashes: { sha256: hash } };
  const targetsKeys = [...loadKeys(dir).values()].filter((k) => k.role === 'targets');
  writeMetadata(dir, `${v}.targets.json`, signedEnvelope(MetadataKind.Targets, md.signed, targetsKeys));
  const srv = await serveRepo(dir);
  const agent = await connectedAgent(srv.url, trustRoot);
  const e = await refreshError(agent.refresh());
  assert.equal(e.code, 'invalid-policy');
  assert.equal(agent.store.policy(), null);
});

test('publishing a broken policy names the field and line, and changes nothing', () => {
  const { dir } = makeRepo();
  const before = readState(dir);
  const cases: [string, RegExp][] = [
    [
      'roles:\n  - name: a\n    eligible: { groups: [x] }\n    activation: { maxDuration: 2h, colour: red }\n',
      /line 4|:4:/,
    ],
    [
      'roles:\n  - name: a\n    eligible: { groups: [x] }\n    activation: { maxDuration: 2h }\n  - name: a\n    eligible: { groups: [x] }\n    activation: { maxDuration: 1h }\n',
      /duplicate|already/i,
    ],
    ['roles: [ {name: a\n', /:\d+|line/],
    [
      'roles:\n  - name: a\n    eligible: { groups: [x] }\n    activation: { maxDuration: forever }\n',
      /:4:\d+ roles\[0\]\.activation\.maxDuration/,
    ],
  ];
  for (const [yaml, expected] of cases) {
    const e = (() => {
      try {
        publishPolicy(dir, yaml, { sourceName: 'policy.yaml' });
      } catch (err) {
        return err;
      }
      return assert.fail(`published a broken policy:\n${yaml}`);
    })();
    assert.ok(e instanceof RepoError);
    assert.match([e.message, ...e.details].join('\n'), expected, yaml);
  }
  assert.deepEqual(readState(dir), before, 'no version was bumped');
});

test('an oversized policy file is refused before parsing', () => {
  const { dir } = makeRepo({ publish: false });
  assert.throws(
    () => publishPolicy(dir, 'roles: []\n#' + 'x'.repeat(65 * 1024 * 1024)),
    (e: RepoError) => /too large|larger|exceeds|size/i.test(e.details.join('\n')),
  );
});

test('publishing the example twice bumps the version once per publish', () => {
  const { dir } = makeRepo();
  assert.equal(publishPolicy(dir, EXAMPLE_POLICY).version, 2);
  assert.equal(publishPolicy(dir, EXAMPLE_POLICY).version, 3);
});
