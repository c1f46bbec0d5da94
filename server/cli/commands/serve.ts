// `pim-server serve`: serve the repository and the API (and forward audit records to syslog).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { errorCode, errorMessage } from '../../../shared/errors';
import type { SyslogTarget } from '../../audit/syslog';
import { serve as serveRepo } from '../../http';
import { RepoError } from '../../repo/repository';
import { one, type ServerCommand } from '../command';

export const serve: ServerCommand = {
  name: 'serve',
  usage: `  pim-server serve DIR [--listen 127.0.0.1:7443] [--public-url URL]
                   [--syslog HOST:PORT --syslog-ca FILE [--syslog-name SERVERNAME]]
      Serve the repository and the API; keeps the timestamp fresh while it runs. The public URL
      (default http://localhost:PORT on loopback) is where people touch their security keys:
      its host name is the WebAuthn relying party.
      --syslog forwards every synced audit record to a syslog receiver as RFC 5424 over TLS
      (RFC 5425, octet-counted; facility authpriv, MSGID = record type, structured data
      [pim@32473 device seq hash user], MSG = the record's canonical JSON). The receiver's
      certificate must chain to --syslog-ca and name --syslog-name (default: HOST). A durable
      cursor in server.db survives outages and restarts: delivery is at least once, so a batch
      in flight when the connection broke may arrive twice; (device, seq) identifies a record.`,
  async run(rest) {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        listen: { type: 'string', default: '127.0.0.1:7443' },
        'insecure-remote': { type: 'boolean' },
        'public-url': { type: 'string' },
        syslog: { type: 'string' },
        'syslog-ca': { type: 'string' },
        'syslog-name': { type: 'string' },
      },
    });
    const dir = one(positionals, 'DIR');
    const { host, port } = parseListen(values.listen);
    const syslog = syslogTarget(values.syslog, values['syslog-ca'], values['syslog-name']);
    if (!isLoopback(host) && !values['insecure-remote']) {
      throw new RepoError(
        `refusing to serve plain HTTP on ${host}: this build has no TLS yet. Listen on loopback behind a TLS proxy, or pass --insecure-remote`,
      );
    }
    const s = await serveRepo(dir, {
      host,
      port,
      publicUrl: values['public-url'],
      syslog,
      log: (l) => process.stderr.write(`pim-server: ${l}\n`),
    });
    process.stdout.write(`pim-server serving ${dir} at ${s.url} (people open ${s.publicUrl})\n`);
    if (syslog) process.stdout.write(`forwarding audit records to syslog at ${values.syslog} (TLS, RFC 5425)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void s.close().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};

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

/** --syslog HOST:PORT --syslog-ca FILE [--syslog-name NAME], or undefined when --syslog is absent */
function syslogTarget(
  addr: string | undefined,
  caFile: string | undefined,
  servername: string | undefined,
): SyslogTarget | undefined {
  if (addr === undefined) {
    if (caFile !== undefined || servername !== undefined)
      throw new RepoError('--syslog-ca and --syslog-name go with --syslog HOST:PORT');
    return undefined;
  }
  let target: { host: string; port: number };
  try {
    target = parseListen(addr);
  } catch {
    throw new RepoError(`--syslog must be HOST:PORT (e.g. siem.example.com:6514), got "${addr}"`);
  }
  if (!caFile)
    throw new RepoError(
      "--syslog needs --syslog-ca FILE: the CA certificate (PEM) the syslog receiver's certificate must chain to",
    );
  let ca: Buffer;
  try {
    ca = fs.readFileSync(caFile);
  } catch (e) {
    throw new RepoError(`cannot read --syslog-ca ${caFile}: ${errorCode(e) ?? errorMessage(e)}`);
  }
  if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----'))
    throw new RepoError(`--syslog-ca ${caFile} holds no PEM certificate`);
  return { ...target, ca, servername };
}
