// A separate process that edits a kubeconfig through updateKubeconfig, for the concurrency and
// lock tests:
//   node --import tsx test/helpers/kube-updater.ts FILE add|remove NAME [START_AT_MS] [HOLD_MS]
// START_AT_MS: busy-wait until that wall-clock time, so that many of them collide; HOLD_MS: stay
// inside the lock that long (to show others wait). Says "updating" on stderr right before it goes
// for the lock, and prints one JSON line with the result on stdout.
import { addKubeEntries, removeKubeEntries } from '../../agent/credentials/kubeconfig';
import { updateKubeconfig } from '../../agent/credentials/kubeconfig-file';

const [file, op, name, startAt, holdMs] = process.argv.slice(2);
if (!file || (op !== 'add' && op !== 'remove') || !name) {
  process.stderr.write('usage: kube-updater.ts FILE add|remove NAME [START_AT_MS] [HOLD_MS]\n');
  process.exit(2);
}
const start = Number(startAt ?? 0);
while (Date.now() < start) {
  // spin: all updaters start within a millisecond of each other
}
const hold = Number(holdMs ?? 0);
const sleep = new Int32Array(new SharedArrayBuffer(4));
process.stderr.write('updating\n'); // the lock is taken next
const result = updateKubeconfig(file, (text) => {
  if (hold > 0) Atomics.wait(sleep, 0, 0, hold);
  if (op === 'remove') return text === null ? null : removeKubeEntries(text, (n) => n === name);
  const cluster = name.replace(/^pim-/, '');
  return addKubeEntries(text, [
    {
      name,
      cluster,
      role: 'r',
      server: `https://${cluster}.example:6443`,
      certificateAuthorityData: null,
      command: '/opt/pim/creds/bin/pim-cred',
      args: ['kube', name],
    },
  ]);
});
process.stdout.write(`${JSON.stringify({ pid: process.pid, op, name, ...result })}\n`);
