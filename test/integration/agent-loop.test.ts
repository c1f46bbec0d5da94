// The background refresh (`pim agent`, the tray app, `pim ui`): it backs off while the control
// plane is away and picks the policy up when it comes back, without anyone pressing Refresh.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { serve } from '../../server/http';
import { publishPolicy } from '../../server/repo/repository';
import { connectedAgent } from '../helpers/agent';
import { EXAMPLE_POLICY, makeRepo } from '../helpers/repo';

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the refresh loop retries with backoff while the server is down and recovers when it returns', async () => {
  const { dir, trustRoot } = makeRepo();
  let srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  const port = srv.port;
  const agent = await connectedAgent(srv.url, trustRoot);
  await agent.refresh();
  await srv.close();

  const attempts: string[] = [];
  agent.startLoop({
    intervalMs: 60_000,
    minBackoffMs: 40,
    onResult: (r) => attempts.push('version' in r ? 'ok' : r.code),
  });
  try {
    await until(() => attempts.length >= 3);
    assert.ok(
      attempts.every((a) => a === 'unreachable'),
      attempts.join(','),
    );
    assert.equal(agent.state().connection, 'offline');
    assert.equal(agent.store.policyVersion(), 1, 'the cached policy is kept meanwhile');

    publishPolicy(dir, EXAMPLE_POLICY);
    srv = await serve(dir, { host: '127.0.0.1', port });
    await until(() => (attempts.at(-1) as string) === 'ok');
    assert.equal(agent.state().connection, 'online');
    assert.equal(agent.store.policyVersion(), 2);
    const retries = attempts.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(attempts.length, retries, 'once online it waits for the full interval');
  } finally {
    agent.stopLoop();
    await srv.close();
  }
});
