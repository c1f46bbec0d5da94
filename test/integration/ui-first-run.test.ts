// The UI's enrolment on a machine without an OS keychain: the enrol screen's state carries the
// one-time sentence saying which keystore this home will use and why, and the choice is kept.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import { ActivationTracker } from '../../agent/activation/tracker';
import { createDispatch } from '../../agent/api/dispatch';
import { serve } from '../../server/http';
import type { AgentState } from '../../shared/api';
import { newAgent } from '../helpers/agent';
import { ENG_POLICY } from '../helpers/cli-world';
import { makeRepo } from '../helpers/repo';

// what a server without a desktop looks like: no PIM_KEYSTORE, no D-Bus session bus at all
delete process.env.PIM_KEYSTORE;
delete process.env.DBUS_SESSION_BUS_ADDRESS;
process.env.XDG_RUNTIME_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-no-bus-'));

test('enrolling from the UI without an OS keychain: the enrol state says once what is used and why', async () => {
  const { dir } = makeRepo({ policy: ENG_POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const root = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(dir, 'trust-root.json')))
    .digest('hex');
  const agent = newAgent();
  const tracker = new ActivationTracker(agent, undefined, { pollMs: 100 });
  after(() => tracker.stop());
  const d = createDispatch(agent, { tracker });
  const { code } = srv.controlPlane.users.add('alice@acme.example', []);
  const started = await d('enroll', { link: `${srv.publicUrl}/enrol#code=${code}&root=${root}` });
  assert.ok(started.ok, JSON.stringify(started));
  const s = (await d('getState', {})) as { ok: true; value: AgentState };
  assert.match(
    s.value.enrolment?.keystoreNotice ?? '',
    /^No OS keychain here \(no D-Bus session bus: a machine without a desktop session\): this home keeps its device key in files under .*keystore \(folder 0700, files 0600, not encrypted\)\. Remembered for this home/,
  );
  assert.equal(
    (JSON.parse(fs.readFileSync(path.join(agent.home, 'keystore.json'), 'utf8')) as { kind: string }).kind,
    'file',
  );

  // a second enrolment in the same home has nothing new to say
  const again = srv.controlPlane.users.add('bob@acme.example', []);
  assert.ok((await d('enroll', { link: `${srv.publicUrl}/enrol#code=${again.code}&root=${root}` })).ok);
  const s2 = (await d('getState', {})) as { ok: true; value: AgentState };
  assert.equal(s2.value.enrolment?.keystoreNotice ?? null, null);
});
