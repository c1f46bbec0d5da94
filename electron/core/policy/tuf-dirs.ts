import path from 'node:path';

export function tufDirs(home: string) {
  return { metadata: path.join(home, 'tuf', 'metadata'), targets: path.join(home, 'tuf', 'targets') };
}
