// Finds the installed package's folder (for dist/renderer and examples/), whether we run from the
// esbuild bundle in dist/ or from TypeScript sources under tsx.
import fs from 'node:fs';
import path from 'node:path';

let cached: string | null = null;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'pim-agent')
      return (cached = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the pim-agent package folder');
    dir = up;
  }
}
