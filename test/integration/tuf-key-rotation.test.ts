// Fast-forward attack recovery (TUF spec §5.3.11) at the level an operator and a user meet it: the
// real `pim-server serve` over HTTP, the `pim-server rotate-keys` CLI and the `pim` CLI.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { MetadataKind } from '@tufjs/models';
import { loadKeys } from '../../server/repo/keys';
import { signedEnvelope, snapshotSigned, timestampSigned } from '../../server/repo/metadata';
import { readState, writeMetadata } from '../../server/repo/repository';
import { PIM, PIM_SERVER, run, start } from '../helpers/procs';
import { EXAMPLE_POLICY, tmpDir } from '../helpers/repo';
import crypto from 'node:crypto';

const HUGE = 2 ** 31;

test('rotate-keys: the new root lists the fresh key (0600) and no longer the old one, which is retired', () => {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
    const before = readState(repo);
    const r = run(PIM_SERVER, ['rotate-keys', repo, '--role', role]);
    assert.equal(r.code, 0, r.stderr);
    const after = readState(repo);
    assert.equal(after.rootVersion, before.rootVersion + 1);
    const root = JSON.parse(
      fs.readFileSync(path.join(repo, 'repo', 'metadata', `${after.rootVersion}.root.json`), 'utf8'),
    ) as { signed: { roles: Record<typeof role, { keyids: string[] }>; keys: Record<string, unknown> } };
    const [oldId] = before.roles[role].keyids;
    const [newId] = root.signed.roles[role].keyids;
    assert.notEqual(newId, oldId);
    assert.equal(root.signed.keys[oldId!], undefined, 'the old key is gone from the root');
    assert.ok(root.signed.keys[newId!]);
    const file = path.join(repo, 'keys', `${role}-${newId!.slice(0, 16)}.json`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(fs.existsSync(path.join(repo, 'keys', 'retired', `${role}-${oldId!.slice(0, 16)}.json`)));
    assert.ok(!fs.existsSync(path.join(repo, 'keys', `${role}-${oldId!.slice(0, 16)}.json`)));
  }
  const bad = run(PIM_SERVER, ['rotate-keys', repo, '--role', 'root']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--role timestamp\|snapshot\|targets/);
});

async function world() {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  const home = path.join(dir, 'home');
  const policy = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policy, EXAMPLE_POLICY);
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  assert.equal(run(PIM_SERVER, ['publish', repo, policy]).code, 0);
  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /at (http:\/\/\S+)/);
  const pim = (...args: string[]) => run(PIM, ['--home', home, ...args]);
  const c = pim(
    'connect',
    server.match[1]!,
    '--user',
    'alice@acme.example',
    '--root',
    path.join(repo, 'trust-root.json'),
  );
  assert.equal(c.code, 0, c.stderr);
  const version = () => (JSON.parse(pim('roles', '--json').stdout) as { policy: { version: number } }).policy.version;
  const publish = () => assert.equal(run(PIM_SERVER, ['publish', repo, policy]).code, 0);
  return { repo, home, pim, version, publish };
}

/** What an attacker holding the online `role` key(s) signs: versions far above the honest ones. */
function fastForward(repo: string, roles: ('timestamp' | 'snapshot' | 'targets')[]) {
  const st = readState(repo);
  const keys = loadKeys(repo);
  const keyOf = (r: string) => [...keys.values()].filter((k) => st.roles[r as 'timestamp'].keyids.includes(k.keyid));
  let snap = st.snapshot!;
  const md = path.join(repo, 'repo', 'metadata');
  if (roles.includes('targets')) {
    const cur = JSON.parse(fs.readFileSync(path.join(md, `${st.targetsVersion}.targets.json`), 'utf8')) as {
      signed: Record<string, unknown>;
    };
    writeMetadata(
      repo,
      `${HUGE}.targets.json`,
      signedEnvelope(MetadataKind.Targets, { ...cur.signed, version: HUGE }, keyOf('targets')),
    );
  }
  if (roles.includes('snapshot')) {
    const cur = JSON.parse(fs.readFileSync(path.join(md, `${st.snapshotVersion}.snapshot.json`), 'utf8')) as {
      signed: { meta: Record<string, { version: number }> };
    };
    const meta = Object.fromEntries(Object.entries(cur.signed.meta).map(([n, m]) => [n, m.version]));
    if (roles.includes('targets')) meta['targets.json'] = HUGE;
    const env = signedEnvelope(
      MetadataKind.Snapshot,
      snapshotSigned(HUGE, new Date(Date.now() + 86400_000), meta),
      keyOf('snapshot'),
    );
    const bytes = Buffer.from(JSON.stringify(env));
    fs.writeFileSync(path.join(md, `${HUGE}.snapshot.json`), bytes);
    snap = { version: HUGE, length: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
  }
  writeMetadata(
    repo,
    'timestamp.json',
    signedEnvelope(
      MetadataKind.Timestamp,
      timestampSigned(HUGE, new Date(Date.now() + 86400_000), snap),
      keyOf('timestamp'),
    ),
  );
}

for (const roles of [['timestamp'], ['timestamp', 'snapshot'], ['timestamp', 'snapshot', 'targets']] as const) {
  test(`fast-forward recovery: after a fast-forward with the ${roles.join(' and ')} key, honest updates are refused until rotate-keys, then accepted`, async () => {
    const { repo, home, pim, version, publish } = await world();
    assert.equal(version(), 1);
    fastForward(repo, [...roles]);
    assert.equal(pim('policy', 'refresh').code, 0, 'the forged metadata verifies: the key was the real one');
    const forged = (roles as readonly string[]).includes('targets') ? HUGE : 1;
    assert.equal(version(), forged);

    publish(); // the honest control plane goes on: policy v2 under an ordinary timestamp version
    const refused = pim('policy', 'refresh');
    assert.notEqual(refused.code, 0, 'without rotation the honest update looks like a rollback');
    assert.match(refused.stderr, /rollback/i);
    assert.equal(version(), forged);

    for (const role of [...roles].reverse()) {
      const rot = run(PIM_SERVER, ['rotate-keys', repo, '--role', role]);
      assert.equal(rot.code, 0, rot.stderr);
      assert.match(rot.stdout, new RegExp(`${role} key rotated: root version \\d+`));
    }
    const ok = pim('policy', 'refresh');
    assert.equal(ok.code, 0, ok.stderr);
    // rotating the targets key re-signs the targets at the next honest version
    const honest = (roles as readonly string[]).includes('targets') ? 3 : 2;
    assert.equal(version(), honest, 'the new, lower versions were accepted');
    const trusted = JSON.parse(fs.readFileSync(path.join(home, 'tuf', 'metadata', 'timestamp.json'), 'utf8')) as {
      signed: { version: number };
    };
    assert.ok(trusted.signed.version < HUGE, 'the forged timestamp is no longer trusted');
    publish();
    assert.equal(pim('policy', 'refresh').code, 0);
    assert.equal(version(), honest + 1, 'updates keep flowing after the recovery');
  });
}
