// Test fixtures: a temporary control plane repository, a served copy of it, and agent homes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from './cleanup';
import { serve, type RunningServer } from '../../server/http';
import { initRepo, publishPolicy, type InitOptions } from '../../server/repo/repository';

import { ROOT } from './bins';

export { ROOT };
export const EXAMPLE_POLICY = fs.readFileSync(path.join(ROOT, 'examples', 'policy.yaml'), 'utf8');

export function tmpDir(prefix = 'pim-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

export function makeRepo(opts: InitOptions & { policy?: string; publish?: boolean } = {}): {
  dir: string;
  trustRoot: Buffer;
} {
  const dir = path.join(tmpDir('pim-repo-'), 'repo');
  initRepo(dir, opts);
  if (opts.publish !== false) publishPolicy(dir, opts.policy ?? EXAMPLE_POLICY, { now: opts.now });
  return { dir, trustRoot: fs.readFileSync(path.join(dir, 'trust-root.json')) };
}

export async function serveRepo(dir: string, opts: { frozen?: boolean } = {}): Promise<RunningServer> {
  const s = await serve(dir, {
    host: '127.0.0.1',
    port: 0,
    timestampCheckMs: 3_600_000,
    keepTimestampFresh: !opts.frozen,
  });
  after(() => s.close());
  return s;
}

/** Copy of the repository's metadata folder as it is now (to serve it again later). */
export function snapshotMetadata(dir: string): string {
  const copy = tmpDir('pim-meta-');
  fs.cpSync(path.join(dir, 'repo', 'metadata'), copy, { recursive: true });
  return copy;
}

export function restoreMetadata(dir: string, copy: string): void {
  const md = path.join(dir, 'repo', 'metadata');
  fs.rmSync(md, { recursive: true, force: true });
  fs.cpSync(copy, md, { recursive: true });
}

export const SMALL_POLICY = `
roles:
  - name: ops-admin
    description: Operations admin
    eligible: { groups: [ops] }
    activation: { maxDuration: 2h }
users:
  - { email: alice@acme.example, groups: [ops] }
`;
