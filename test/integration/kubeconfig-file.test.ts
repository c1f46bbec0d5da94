// updateKubeconfig on real files: the lock (ours and kubectl's), many processes at once, modes,
// symlinks, and the file we created going away again.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { parse } from 'yaml';
import { UnsafePathError, withFileLock } from '../../platform/fs-safe';
import {
  KubeconfigError,
  SKELETON,
  addKubeEntries,
  listPimEntries,
  removeKubeEntries,
  type KubeEntry,
} from '../../agent/credentials/kubeconfig';
import { updateKubeconfig } from '../../agent/credentials/kubeconfig-file';
import { ROOT, tmpDir } from '../helpers/repo';
import { requireProgram } from '../helpers/system';

const POSIX = process.platform !== 'win32';
const UPDATER = path.join(ROOT, 'test', 'helpers', 'kube-updater.ts');

function entry(name: string): KubeEntry {
  const cluster = name.replace(/^pim-/, '');
  return {
    name,
    cluster,
    role: 'r',
    server: `https://${cluster}.example:6443`,
    certificateAuthorityData: null,
    command: '/opt/pim/creds/bin/pim-cred',
    args: ['kube', name],
  };
}

const USER_FILE = `# my clusters
apiVersion: v1
clusters:
- cluster:
    server: https://kind.local:6443
  name: kind
contexts:
- context:
    cluster: kind
    user: kind
  name: kind
current-context: kind
kind: Config
preferences: {}
users:
- name: kind
  user:
    token: abc # test token
`;

function mode(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'));
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs test/helpers/kube-updater.ts; `updating` resolves when it is about to take the lock. */
function startUpdater(args: string[]): { updating: Promise<void>; done: Promise<Outcome>; exited: () => boolean } {
  const child = spawn(process.execPath, ['--import', 'tsx', UPDATER, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let signal: () => void = () => {};
  const updating = new Promise<void>((resolve) => (signal = resolve));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('updating\n')) signal();
  });
  const done = new Promise<Outcome>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      signal();
      resolve({ code, stdout, stderr: stderr.replace('updating\n', '') });
    });
  });
  return { updating, done, exited: () => child.exitCode !== null };
}

const updater = (args: string[]) => startUpdater(args).done;

test.skipIf(!POSIX)('a missing folder is created 0700 and a new file is 0600, whatever the umask', () => {
  const home = tmpDir('pim-kc-');
  const file = path.join(home, '.kube', 'config');
  const old = process.umask(0o022);
  try {
    assert.deepEqual(
      updateKubeconfig(file, (t) => addKubeEntries(t, [entry('pim-a')])),
      { changed: true, removed: false },
    );
  } finally {
    process.umask(old);
  }
  assert.equal(mode(path.join(home, '.kube')), 0o700);
  assert.equal(mode(file), 0o600);
  assert.deepEqual(listPimEntries(fs.readFileSync(file, 'utf8')), ['pim-a']);
  assert.deepEqual(leftovers(path.dirname(file)), [], 'no temp file or lock left behind');
});

test.skipIf(!POSIX)(
  "an existing file keeps its mode and the user's bytes; an unchanged edit does not rewrite it",
  () => {
    const dir = tmpDir('pim-kc-');
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, USER_FILE);
    fs.chmodSync(file, 0o640);
    updateKubeconfig(file, (t) => addKubeEntries(t, [entry('pim-a')]));
    assert.equal(mode(file), 0o640);
    const ino = fs.statSync(file).ino;
    assert.deepEqual(
      updateKubeconfig(file, (t) => t),
      { changed: false, removed: false },
    );
    assert.equal(fs.statSync(file).ino, ino, 'not rewritten');
    assert.deepEqual(
      updateKubeconfig(file, (t) => removeKubeEntries(t!, () => true)),
      { changed: true, removed: false },
    );
    assert.equal(fs.readFileSync(file, 'utf8'), USER_FILE);
    assert.equal(mode(file), 0o640);
  },
);

test("the kubeconfig PIM Agent created is deleted once its last entry is gone; the user's file never is", () => {
  const dir = tmpDir('pim-kc-');
  const ours = path.join(dir, 'ours');
  updateKubeconfig(ours, (t) => addKubeEntries(t, [entry('pim-a'), entry('pim-b')]));
  assert.ok(fs.readFileSync(ours, 'utf8').startsWith(SKELETON.split('\n')[0]!));
  assert.deepEqual(
    updateKubeconfig(ours, (t) => removeKubeEntries(t!, (n) => n === 'pim-a')),
    { changed: true, removed: false },
  );
  assert.deepEqual(
    updateKubeconfig(ours, (t) => removeKubeEntries(t!, () => true)),
    { changed: true, removed: true },
  );
  assert.equal(fs.existsSync(ours), false);
  assert.deepEqual(
    updateKubeconfig(ours, (t) => (t === null ? null : removeKubeEntries(t, () => true))),
    { changed: false, removed: false },
    'nothing there, nothing to do',
  );
  assert.equal(fs.existsSync(ours), false, 'not created by a no-op');

  const theirs = path.join(dir, 'theirs');
  fs.writeFileSync(theirs, USER_FILE);
  updateKubeconfig(theirs, (t) => addKubeEntries(t, [entry('pim-a')]));
  updateKubeconfig(theirs, (t) => removeKubeEntries(t!, () => true));
  assert.equal(fs.readFileSync(theirs, 'utf8'), USER_FILE);

  // an edit returning null deletes
  assert.deepEqual(
    updateKubeconfig(theirs, () => null),
    { changed: true, removed: true },
  );
  assert.equal(fs.existsSync(theirs), false);
});

test.skipIf(!POSIX)('a symlink at the kubeconfig path is refused with a clear error; its target is untouched', () => {
  const dir = tmpDir('pim-kc-');
  const target = path.join(dir, 'real-config');
  fs.writeFileSync(target, USER_FILE);
  const link = path.join(dir, 'config');
  fs.symlinkSync(target, link);
  assert.throws(
    () => updateKubeconfig(link, (t) => addKubeEntries(t, [entry('pim-a')])),
    (e: Error) => e instanceof UnsafePathError && /is a symbolic link/.test(e.message) && e.message.includes(link),
  );
  assert.equal(fs.readFileSync(target, 'utf8'), USER_FILE);
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.deepEqual(leftovers(dir), []);
});

test('a refused name or a foreign same-named entry leaves the file exactly as it was', () => {
  const dir = tmpDir('pim-kc-');
  const file = path.join(dir, 'config');
  fs.writeFileSync(file, USER_FILE);
  assert.throws(
    () => updateKubeconfig(file, (t) => addKubeEntries(t, [entry('pim-a\n- name: evil')])),
    UnsafePathError,
  );
  const foreign = USER_FILE.replace(/name: kind$/m, 'name: pim-kind');
  fs.writeFileSync(file, foreign);
  assert.throws(
    () => updateKubeconfig(file, (t) => addKubeEntries(t, [entry('pim-kind')])),
    (e: Error) =>
      e instanceof KubeconfigError &&
      e.message.startsWith(`kubeconfig ${file}: there is already a cluster named pim-kind`),
  );
  assert.equal(fs.readFileSync(file, 'utf8'), foreign);
  fs.writeFileSync(file, 'apiVersion: v1\nusers: [\n');
  assert.throws(() => updateKubeconfig(file, (t) => addKubeEntries(t, [entry('pim-a')])), /not valid YAML/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'apiVersion: v1\nusers: [\n');
  assert.deepEqual(leftovers(dir), []);
});

test(
  '20 processes adding and removing different entries at once leave exactly the expected entries',
  { timeout: 120_000 },
  async () => {
    const dir = tmpDir('pim-kc-');
    const file = path.join(dir, 'config');
    const old = Array.from({ length: 10 }, (_, i) => `pim-old${i}`);
    const fresh = Array.from({ length: 10 }, (_, i) => `pim-new${i}`);
    fs.writeFileSync(file, addKubeEntries(USER_FILE, old.map(entry)));
    const startAt = Date.now() + 3_000; // after every process has loaded
    const runs = await Promise.all([
      ...fresh.map((n) => updater([file, 'add', n, String(startAt)])),
      ...old.map((n) => updater([file, 'remove', n, String(startAt)])),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { changed: boolean }).changed, true, r.stdout);
    }
    const text = fs.readFileSync(file, 'utf8');
    assert.deepEqual(listPimEntries(text), [...fresh].sort());
    const kc = parse(text) as { clusters: { name: string }[]; contexts: { name: string }[]; users: { name: string }[] };
    for (const key of ['clusters', 'contexts', 'users'] as const) {
      assert.deepEqual(kc[key].map((x) => x.name).sort(), ['kind', ...fresh].sort(), key);
    }
    assert.equal(
      removeKubeEntries(text, () => true),
      USER_FILE,
      "the user's bytes survived every one of the 20 rewrites",
    );
    assert.deepEqual(leftovers(dir), []);
  },
);

test(
  'a held <file>.lock (as kubectl leaves it while writing) makes us wait, then we proceed',
  { timeout: 60_000 },
  async () => {
    const dir = tmpDir('pim-kc-');
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, USER_FILE);
    fs.writeFileSync(`${file}.lock`, ''); // client-go's lock: an empty file created O_EXCL
    const child = startUpdater([file, 'add', 'pim-waiting']);
    await child.updating;
    // it is up and going for the lock: while the lock is there it waits, and the file stays as it was
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(child.exited(), false, 'still waiting for the lock');
    assert.equal(fs.readFileSync(file, 'utf8'), USER_FILE);
    fs.rmSync(`${file}.lock`);
    const r = await child.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listPimEntries(fs.readFileSync(file, 'utf8')), ['pim-waiting']);
    assert.deepEqual(leftovers(dir), []);
  },
);

test(
  'while we hold the lock another updater waits for us (its edit lands after ours)',
  { timeout: 60_000 },
  async () => {
    const dir = tmpDir('pim-kc-');
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, USER_FILE);
    const slow = updater([file, 'add', 'pim-slow', '0', '3000']);
    // wait until the slow one holds the lock
    for (let i = 0; i < 400 && !fs.existsSync(`${file}.lock`); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(fs.existsSync(`${file}.lock`), 'the slow updater took the lock');
    const fastRun = startUpdater([file, 'add', 'pim-fast']);
    await fastRun.updating;
    const fast = await fastRun.done;
    const s = await slow;
    assert.equal(s.code, 0, s.stderr);
    assert.equal(fast.code, 0, fast.stderr);
    const text = fs.readFileSync(file, 'utf8');
    assert.deepEqual(listPimEntries(text), ['pim-fast', 'pim-slow'], 'neither edit was lost');
    assert.ok(text.indexOf('name: pim-slow') < text.indexOf('name: pim-fast'), 'the waiting edit came second');
  },
);

test('kubectl refuses to write the kubeconfig while we hold its lock, and works once we are done', (t) => {
  const kubectl = requireProgram(t, 'kubectl', 'checks that kubectl honours the same <kubeconfig>.lock');
  if (!kubectl) return;
  const dir = tmpDir('pim-kc-');
  const file = path.join(dir, 'config');
  fs.writeFileSync(file, USER_FILE);
  const env = { ...process.env, HOME: dir, KUBECONFIG: file };
  const during = withFileLock(`${file}.lock`, () =>
    spawnSync(kubectl, ['config', 'set-cluster', 'other', '--server=https://other:6443'], { env, encoding: 'utf8' }),
  );
  assert.notEqual(during.status, 0, 'kubectl must not write while we hold the lock');
  assert.match(during.stderr, /\.lock/);
  assert.equal(fs.readFileSync(file, 'utf8'), USER_FILE);
  const afterwards = spawnSync(kubectl, ['config', 'set-cluster', 'other', '--server=https://other:6443'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(afterwards.status, 0, afterwards.stderr);
});
