// The `pim` entry point (bundled to dist/pim.cjs): the agent's CLI, plus what wires the agent and the
// demo control plane together for `pim start` / `npm start`. Only entry points in app/ may import both.
import { main } from '../agent/cli/main';
import { errorMessage } from '../shared/errors';

// start is loaded only when asked for: the demo control plane is code every other command can skip
main(process.argv.slice(2), { start: async (home, opts) => (await import('./start')).runStart(home, opts) }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`pim: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  },
);
