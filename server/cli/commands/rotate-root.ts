// `pim-server rotate-root`: replace the TUF root keys.
import { parseArgs } from 'node:util';
import { rotateRoot } from '../../repo/repository';
import { one, type ServerCommand } from '../command';

export const rotateRootCommand: ServerCommand = {
  name: 'rotate-root',
  usage: `  pim-server rotate-root DIR [--threshold N] [--keys N]
      Replace the root keys: the new root is signed by the old and the new keys.`,
  run(rest) {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { threshold: { type: 'string' }, keys: { type: 'string' } },
    });
    const dir = one(positionals, 'DIR');
    const r = rotateRoot(dir, {
      threshold: values.threshold ? Number(values.threshold) : undefined,
      keys: values.keys ? Number(values.keys) : undefined,
    });
    process.stdout.write(
      `root rotated to version ${r.version} (${r.threshold} of ${r.keyids.length} keys); old root keys retired\n`,
    );
    return 0;
  },
};
