import path from 'node:path';

export function tufDirs(home: string) {
  return {
    metadata: path.join(home, 'tuf', 'metadata'),
    targets: path.join(home, 'tuf', 'targets'),
    /** the targets keys the cached policy was verified under (see refresh.ts, fast-forward recovery) */
    signers: path.join(home, 'tuf', 'targets-signers.json'),
  };
}
