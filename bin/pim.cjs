#!/usr/bin/env node
'use strict';
// Thin launcher: the code is bundled into dist/ by `npm run build` (run automatically by npm install).
try {
  require.resolve('../dist/pim.cjs');
} catch {
  process.stderr.write('pim: not built yet — run: npm run build\n');
  process.exit(1);
}
const argv = process.argv.slice(2);
// `pim roles` and `pim status` run often (prompts, scripts): dist/pim-fast.cjs answers them without
// loading the whole CLI, and hands back (null) anything it is not sure of. Other commands skip it.
if (argv.includes('roles') || argv.includes('status')) {
  let fast = null;
  try {
    fast = require('../dist/pim-fast.cjs');
  } catch {
    // an older build without it: the full CLI answers
  }
  Promise.resolve(fast ? fast.run(argv) : null).then(
    (code) => {
      if (code === null) require('../dist/pim.cjs');
      else process.exitCode = code;
    },
    () => require('../dist/pim.cjs'),
  );
} else {
  require('../dist/pim.cjs');
}
