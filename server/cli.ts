// `pim-server`: the reference control plane's command line.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from '../shared/policy/duration';
import { serve } from './http';
import { initRepo, publishPolicy, RepoError, rotateRoot } from './repo/repository';

const HELP = `pim-server — reference control plane for PIM Agent

Usage:
  pim-server init DIR [--root-expires 365d] [--timestamp-expires 1d]
      Create a policy repository and its signing keys (0600) in DIR, and DIR/trust-root.json,
      the TUF root that agents pin.
  pim-server publish DIR POLICY.yaml [--expires 7d]
      Validate the policy, compile it into signed TUF targets (roles + one file per user), bump
      versions and print the new policy version. --expires is how long agents may use it offline.
  pim-server rotate-root DIR [--threshold N] [--keys N]
      Replace the root keys: the new root is signed by the old and the new keys.
  pim-server serve DIR [--listen 127.0.0.1:7443]
      Serve the repository and the API; keeps the timestamp fresh while it runs.

Options:
  -h, --help     this help
`;

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) throw new RepoError(`--listen must be HOST:PORT (e.g. 127.0.0.1:7443), got "${s}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new RepoError(`port ${port} is out of range`);
  return { host: (m[1] ?? m[2])!, port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd ? 0 : 2;
  }
  try {
    switch (cmd) {
      case 'init': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { 'root-expires': { type: 'string' }, 'timestamp-expires': { type: 'string' } } });
        const dir = one(positionals, 'DIR');
        const r = initRepo(dir, {
          rootTtlDays: values['root-expires'] ? parseDuration(values['root-expires']) / 86400 : undefined,
          timestampTtlSeconds: values['timestamp-expires'] ? parseDuration(values['timestamp-expires']) : undefined,
        });
        process.stdout.write(`initialised repository in ${dir}\ntrust root: ${r.trustRoot}\ntrust root sha256: ${r.rootSha256}\n`);
        return 0;
      }
      case 'publish': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { expires: { type: 'string' } } });
        if (positionals.length !== 2) throw new RepoError('usage: pim-server publish DIR POLICY.yaml [--expires 7d]');
        const [dir, file] = positionals as [string, string];
        let text: string;
        try {
          text = fs.readFileSync(file, 'utf8');
        } catch (e) {
          throw new RepoError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const t0 = performance.now();
        const r = publishPolicy(dir, text, { expiresSeconds: values.expires ? parseDuration(values.expires) : undefined, sourceName: file });
        process.stdout.write(`published policy version ${r.version}: ${r.roles} roles, ${r.users} users, ${r.bins} bins; agents may use it offline until ${r.expires} (${Math.round(performance.now() - t0)} ms)\n`);
        return 0;
      }
      case 'rotate-root': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { threshold: { type: 'string' }, keys: { type: 'string' } } });
        const dir = one(positionals, 'DIR');
        const r = rotateRoot(dir, { threshold: values.threshold ? Number(values.threshold) : undefined, keys: values.keys ? Number(values.keys) : undefined });
        process.stdout.write(`root rotated to version ${r.version} (${r.threshold} of ${r.keyids.length} keys); old root keys retired\n`);
        return 0;
      }
      case 'serve': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { listen: { type: 'string', default: '127.0.0.1:7443' }, 'insecure-remote': { type: 'boolean' } } });
        const dir = one(positionals, 'DIR');
        const { host, port } = parseListen(values.listen!);
        if (!isLoopback(host) && !values['insecure-remote']) {
          throw new RepoError(`refusing to serve plain HTTP on ${host}: this build has no TLS yet. Listen on loopback behind a TLS proxy, or pass --insecure-remote`);
        }
        const s = await serve(dir, { host, port, log: (l) => process.stderr.write(`pim-server: ${l}\n`) });
        process.stdout.write(`pim-server serving ${dir} at ${s.url}\n`);
        await new Promise<void>((resolve) => {
          const stop = () => void s.close().then(resolve);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        return 0;
      }
      default:
        process.stderr.write(`pim-server: unknown command "${cmd}"\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof RepoError) {
      process.stderr.write(`pim-server: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join('')}`);
      return 1;
    }
    if (e instanceof Error && (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`pim-server: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`pim-server: ${(e as Error).message}\n`);
    return 1;
  }
}

function one(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new RepoError(`expected exactly one ${name}`);
  return positionals[0]!;
}
