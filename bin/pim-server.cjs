#!/usr/bin/env node
'use strict';
// Thin launcher: the code is bundled into dist/ by `npm run build` (run automatically by npm install).
try {
  require.resolve('../dist/pim-server.cjs');
} catch {
  process.stderr.write('pim-server: not built yet — run: npm run build\n');
  process.exit(1);
}
require('../dist/pim-server.cjs');
