// `pim-server`: the reference control plane's command line.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { errorCode, errorMessage } from '../shared/errors';
import { parseDuration } from '../shared/policy/duration';
import { serve } from './http';
import { auditFlags, describeProblem, exportRecords, verifyStoredChains } from './audit/report';
import type { SyslogTarget } from './audit/syslog';
import crypto from 'node:crypto';
import { configFor, loadConfig } from './config';
import { ApiError } from './api/errors';
import { ControlPlane } from './control-plane';
import { IssuerKeys } from './credentials/issuer-keys';
import { SshCa } from './credentials/ssh-ca';
import {
  compileForPublish,
  initRepo,
  paths,
  publishedPolicy,
  publishPolicy,
  readState,
  RepoError,
  rotateKeys,
  rotateRoot,
  type OnlineRole,
} from './repo/repository';
import { reviewPolicy } from '../shared/policy/review';
import { openServerDb, type ServerDb } from './store/db';
import { Store } from './store/store';

const HELP = `pim-server — reference control plane for PIM Agent

Usage:
  pim-server init DIR [--root-expires 365d] [--timestamp-expires 1d]
      Create a policy repository and its signing keys (0600) in DIR, and DIR/trust-root.json,
      the TUF root that agents pin.
  pim-server publish DIR POLICY.yaml [--expires 7d] [--dry-run] [--force]
      Validate the policy, compile it into signed TUF targets (roles + one file per user), bump
      versions and print the new policy version. --expires is how long agents may use it offline.
      Prints what changes for whom (roles added/removed, users gaining or losing eligibility,
      approvers). Warnings stop the publish unless --force: no roles, a group used but empty, a
      role nobody is eligible for, an approval nobody but the requester can give.
      --dry-run: validate and print all that, publish nothing.
  pim-server rotate-root DIR [--threshold N] [--keys N]
      Replace the root keys: the new root is signed by the old and the new keys.
  pim-server rotate-keys DIR --role timestamp|snapshot|targets
      Replace the role's key after a compromise: a new root (signed by the root keys) lists a
      fresh key (0600 in DIR/keys) and drops the old one (moved to DIR/keys/retired), and the
      role's metadata is re-signed. Agents drop what the old key signed — including a
      fast-forwarded huge version — and accept the new, lower versions (TUF §5.3.11).
  pim-server rotate-issuer-key DIR
      A new ES256 key signs kube and AWS tokens from now on. The previous keys stay in
      /.well-known/jwks.json for another hour, so tokens they signed (15 minutes at most) keep
      verifying; keys past that are removed. A running \`serve\` picks the new key up at once.
  pim-server ssh-ca DIR
      Print the SSH CA's public key line, for sshd's TrustedUserCAKeys (also served at /ssh-ca.pub).
  pim-server serve DIR [--listen 127.0.0.1:7443] [--public-url URL]
                   [--syslog HOST:PORT --syslog-ca FILE [--syslog-name SERVERNAME]]
      Serve the repository and the API; keeps the timestamp fresh while it runs. The public URL
      (default http://localhost:PORT on loopback) is where people touch their security keys:
      its host name is the WebAuthn relying party.
      --syslog forwards every synced audit record to a syslog receiver as RFC 5424 over TLS
      (RFC 5425, octet-counted; facility authpriv, MSGID = record type, structured data
      [pim@32473 device seq hash user], MSG = the record's canonical JSON). The receiver's
      certificate must chain to --syslog-ca and name --syslog-name (default: HOST). A durable
      cursor in server.db survives outages and restarts: delivery is at least once, so a batch
      in flight when the connection broke may arrive twice; (device, seq) identifies a record.
  pim-server user add DIR EMAIL [--groups a,b] [--url URL] [--expires 24h]
      Add a user (groups join those the policy gives them; republishes) and print a one-time
      enrolment link for \`pim enroll\`.
  pim-server user list DIR
  pim-server user revoke-key DIR EMAIL KEY-ID
  pim-server user revoke-device DIR DEVICE-THUMBPRINT
      Refuse the device's signed calls from now on, and revoke its live activations
      (reason "device revoked").
  pim-server activation list DIR [--live] [--json]
      List activations, newest first (--live: only those not ended yet).
  pim-server activation revoke DIR ID [--reason TEXT]
      End an active or approved activation now: no more credentials are issued for it, and the
      agent removes what it injected. Works while \`serve\` runs on DIR.
  pim-server audit verify DIR
      Re-verify every device's synced audit chain from its first record and list the events
      ingest flagged (gaps, forks, broken links, foreign or invalid records). Exit 0 when every
      chain is intact and nothing was flagged, 1 otherwise.
  pim-server audit export DIR [--since ISO-TIME] [--device=THUMBPRINT] [--format jsonl]
      Print the synced audit records, one JSON object {device, seq, hash, record} a line,
      ordered by device then seq. --since keeps records at or after that time (record.at).

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
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { 'root-expires': { type: 'string' }, 'timestamp-expires': { type: 'string' } },
        });
        const dir = one(positionals, 'DIR');
        const r = initRepo(dir, {
          rootTtlDays: values['root-expires'] ? parseDuration(values['root-expires']) / 86400 : undefined,
          timestampTtlSeconds: values['timestamp-expires'] ? parseDuration(values['timestamp-expires']) : undefined,
        });
        // the credential issuers' keys, so sshd and OIDC consumers can be set up before `serve`
        await new IssuerKeys(dir).ensure();
        const caLine = new SshCa(dir).publicKeyLine();
        process.stdout.write(
          `initialised repository in ${dir}\ntrust root: ${r.trustRoot}\ntrust root sha256: ${r.rootSha256}\nSSH CA (for sshd's TrustedUserCAKeys): ${caLine}\n`,
        );
        return 0;
      }
      case 'publish': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { expires: { type: 'string' }, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' } },
        });
        if (positionals.length !== 2)
          throw new RepoError('usage: pim-server publish DIR POLICY.yaml [--expires 7d] [--dry-run] [--force]');
        const [dir, file] = positionals as [string, string];
        let text: string;
        try {
          text = fs.readFileSync(file, 'utf8');
        } catch (e) {
          throw new RepoError(`cannot read ${file}: ${errorCode(e) ?? errorMessage(e)}`);
        }
        const t0 = performance.now();
        readState(dir);
        const extraMembers = withControlPlane(dir, null, (cp) => cp.users.extraMembers());
        // validated and compiled first: what changes for whom, and what is probably a mistake
        const review = reviewPolicy(
          publishedPolicy(dir, extraMembers),
          compileForPublish(text, { extraMembers, sourceName: file }),
        );
        const say = (l: string) => process.stdout.write(`${l}\n`);
        if (values['dry-run'] || review.changes.length)
          say(review.changes.length ? `changes:\n${review.changes.map((c) => `  ${c}`).join('\n')}` : 'changes: none');
        for (const w of review.warnings) process.stderr.write(`warning: ${w.message}\n`);
        if (values['dry-run']) {
          say(
            `dry run: valid${review.warnings.length ? `, with ${review.warnings.length} warning(s) that would stop a publish without --force` : ''}; nothing was published`,
          );
          return 0;
        }
        if (review.warnings.length && !values.force) {
          process.stderr.write(
            `pim-server: not published: ${review.warnings.length} warning(s) above. Fix the policy, or publish it as it is with --force\n`,
          );
          return 1;
        }
        const r = publishPolicy(dir, text, {
          expiresSeconds: values.expires ? parseDuration(values.expires) : undefined,
          sourceName: file,
          extraMembers,
        });
        process.stdout.write(
          `published policy version ${r.version}: ${r.roles} roles, ${r.users} users, ${r.bins} bins; agents may use it offline until ${r.expires} (${Math.round(performance.now() - t0)} ms)\n`,
        );
        return 0;
      }
      case 'rotate-root': {
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
      }
      case 'rotate-keys': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { role: { type: 'string' } },
        });
        const dir = one(positionals, 'DIR');
        const role = values.role;
        if (role !== 'timestamp' && role !== 'snapshot' && role !== 'targets')
          throw new RepoError('usage: pim-server rotate-keys DIR --role timestamp|snapshot|targets');
        const r = rotateKeys(dir, role as OnlineRole);
        process.stdout.write(
          `${role} key rotated: root version ${r.rootVersion} lists the new key ${r.keyid.slice(0, 16)}…; old key ${r.retired.map((k) => k.slice(0, 16) + '…').join(', ') || '(none)'} retired\n`,
        );
        return 0;
      }
      case 'rotate-issuer-key': {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
        const dir = one(positionals, 'DIR');
        readState(dir);
        const r = await new IssuerKeys(dir).rotate();
        const lines = [`new issuer signing key ${r.kid}`];
        for (const k of r.retiring) lines.push(`  previous key ${k.kid} stays in the JWKS until ${k.retiresAt}`);
        for (const kid of r.deleted) lines.push(`  retired key ${kid} removed`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      }
      case 'ssh-ca': {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
        const dir = one(positionals, 'DIR');
        readState(dir);
        process.stdout.write(`${new SshCa(dir).publicKeyLine()}\n`);
        return 0;
      }
      case 'activation':
        return activationCommand(rest);
      case 'user':
        return userCommand(rest);
      case 'audit':
        return await auditCommand(rest);
      case 'serve': {
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
        const { host, port } = parseListen(values.listen!);
        const syslog = syslogTarget(values.syslog, values['syslog-ca'], values['syslog-name']);
        if (!isLoopback(host) && !values['insecure-remote']) {
          throw new RepoError(
            `refusing to serve plain HTTP on ${host}: this build has no TLS yet. Listen on loopback behind a TLS proxy, or pass --insecure-remote`,
          );
        }
        const s = await serve(dir, {
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
    if (e instanceof Error && errorCode(e) === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`pim-server: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`pim-server: ${errorMessage(e)}\n`);
    return 1;
  }
}

/** Runs fn against DIR's server.db (created on first use), with the recorded or given public URL. */
function withControlPlane<T>(dir: string, url: string | null, fn: (cp: ControlPlane) => T): T {
  readState(dir);
  const db = openServerDb(dir);
  try {
    const cfg = url ? configFor(url) : (loadConfig(dir) ?? configFor('http://localhost:7443'));
    return fn(new ControlPlane(dir, db, cfg));
  } finally {
    db.close();
  }
}

function userCommand(rest: string[]): number {
  const [sub, ...args] = rest;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { groups: { type: 'string' }, url: { type: 'string' }, expires: { type: 'string' } },
  });
  switch (sub) {
    case 'add': {
      if (positionals.length !== 2)
        throw new RepoError('usage: pim-server user add DIR EMAIL [--groups a,b] [--url URL] [--expires 24h]');
      const [dir, email] = positionals as [string, string];
      const groups = (values.groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      for (const g of groups)
        if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/.test(g)) throw new RepoError(`"${g}" is not a valid group name`);
      const url = values.url ?? loadConfig(dir)?.publicUrl;
      if (!url)
        throw new RepoError(
          'which URL will people use to reach this control plane? pass --url (or run `pim-server serve` once, which records it)',
        );
      const ttl = values.expires ? parseDuration(values.expires) * 1000 : undefined;
      const { code, expiresAt, extra } = withControlPlane(dir, url, (cp) => ({
        ...cp.users.add(email, groups, ttl),
        extra: cp.users.extraMembers(),
      }));
      if (groups.length && fs.existsSync(paths(dir).source)) {
        const r = publishPolicy(dir, fs.readFileSync(paths(dir).source, 'utf8'), {
          extraMembers: extra,
          sourceName: 'policy-source.yaml',
        });
        process.stdout.write(`republished policy version ${r.version} with ${email}'s groups\n`);
      }
      const rootSha = crypto
        .createHash('sha256')
        .update(fs.readFileSync(paths(dir).trustRoot))
        .digest('hex');
      process.stdout.write(
        `enrolment link for ${email} (one use, expires ${expiresAt}):\n${configFor(url).publicUrl}/enrol#code=${code}&root=${rootSha}\n`,
      );
      return 0;
    }
    case 'list': {
      const dir = one(positionals, 'DIR');
      for (const u of withControlPlane(dir, null, (cp) => cp.users.list())) {
        process.stdout.write(
          `${u.email}\n  devices: ${u.devices.join(', ') || '-'}\n  keys: ${u.keys.map((k) => `${k.id}${k.revoked ? ' (revoked)' : ''}${k.flagged ? ' (FLAGGED: counter went backwards)' : ''}`).join(', ') || '-'}\n`,
        );
      }
      return 0;
    }
    case 'revoke-key': {
      if (positionals.length !== 3) throw new RepoError('usage: pim-server user revoke-key DIR EMAIL KEY-ID');
      const [dir, email, id] = positionals as [string, string, string];
      if (!withControlPlane(dir, null, (cp) => cp.users.revokeKey(email, id)))
        throw new RepoError(`no active key ${id} for ${email}`);
      process.stdout.write(`revoked key ${id} of ${email}\n`);
      return 0;
    }
    case 'revoke-device': {
      if (positionals.length !== 2) throw new RepoError('usage: pim-server user revoke-device DIR DEVICE-THUMBPRINT');
      const [dir, tp] = positionals as [string, string];
      const r = withControlPlane(dir, null, (cp) => cp.users.revokeDeviceAccess(tp));
      if (!r.device && r.activations.length === 0 && r.requests.length === 0)
        throw new RepoError(`no active device ${tp}`);
      const acts = r.activations.length
        ? ` and ${r.activations.length} live activation${r.activations.length === 1 ? '' : 's'} (${r.activations.join(', ')})`
        : '';
      const waiting = r.requests.length
        ? `; ${r.requests.length} waiting request${r.requests.length === 1 ? '' : 's'} ended`
        : '';
      process.stdout.write(`revoked device ${tp}${acts}${waiting}\n`);
      return 0;
    }
    default:
      throw new RepoError('usage: pim-server user add|list|revoke-key|revoke-device …');
  }
}

function activationCommand(rest: string[]): number {
  const [sub, ...args] = rest;
  switch (sub) {
    case 'list': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { json: { type: 'boolean' }, live: { type: 'boolean' } },
      });
      const dir = one(positionals, 'DIR');
      const list = withControlPlane(dir, null, (cp) => cp.activations.all({ live: values.live }));
      if (values.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return 0;
      }
      if (!list.length) {
        process.stdout.write(values.live ? 'no live activations\n' : 'no activations\n');
        return 0;
      }
      const rows = [
        ['ID', 'STATE', 'ROLE', 'USER', 'STARTED', 'ENDS', 'REASON'],
        ...list.map((a) => [a.id, a.state, a.role, a.user, a.startsAt ?? '-', a.expiresAt ?? '-', a.endReason ?? '']),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      process.stdout.write(
        rows
          .map((r) =>
            r
              .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
              .join('  ')
              .trimEnd(),
          )
          .join('\n') + '\n',
      );
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { reason: { type: 'string' } },
      });
      if (positionals.length !== 2) throw new RepoError('usage: pim-server activation revoke DIR ID [--reason TEXT]');
      const [dir, id] = positionals as [string, string];
      const reason = values.reason?.trim() || 'revoked by an administrator';
      if (/[\u0000-\u001f\u007f]/.test(reason) || reason.length > 1000)
        throw new RepoError('--reason must be one line of at most 1000 characters');
      const view = withControlPlane(dir, null, (cp) => {
        try {
          return cp.activations.revoke(id, reason);
        } catch (e) {
          if (e instanceof ApiError) throw new RepoError(`cannot revoke activation ${id}: ${e.message}`);
          throw e;
        }
      });
      process.stdout.write(`revoked activation ${view.id} (${view.role} for ${view.user}): ${reason}\n`);
      return 0;
    }
    default:
      throw new RepoError('usage: pim-server activation list|revoke …');
  }
}

async function auditCommand(rest: string[]): Promise<number> {
  const [sub, ...args] = rest;
  switch (sub) {
    case 'verify': {
      const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
      const dir = one(positionals, 'DIR');
      const { chains, flags } = withServerDb(dir, (db) => {
        const audit = new Store(db).audit;
        return { chains: verifyStoredChains(audit), flags: auditFlags(audit) };
      });
      const out: string[] = [];
      if (!chains.length) out.push('no audit records synced yet');
      for (const c of chains)
        out.push(
          `device ${c.device}: ${c.records} record${c.records === 1 ? '' : 's'}, ${c.problem ? `CHAIN BROKEN — ${describeProblem(c.problem)}` : 'chain intact'}`,
        );
      if (flags.length) {
        out.push(`${flags.length} flagged event${flags.length === 1 ? '' : 's'}:`);
        for (const f of flags)
          out.push(`  ${f.kind}  device ${f.device}  seq ${f.seq ?? '-'}  ${f.detail}  (at ${f.at})`);
      } else out.push('no flagged events');
      process.stdout.write(`${out.join('\n')}\n`);
      return chains.every((c) => c.problem === null) && flags.length === 0 ? 0 : 1;
    }
    case 'export': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          since: { type: 'string' },
          device: { type: 'string' },
          format: { type: 'string', default: 'jsonl' },
        },
      });
      const usage = 'usage: pim-server audit export DIR [--since ISO-TIME] [--device=THUMBPRINT] [--format jsonl]';
      if (values.format !== 'jsonl') {
        process.stderr.write(
          `pim-server: unknown export format "${values.format}": only jsonl is supported\n${usage}\n`,
        );
        return 2;
      }
      let since: Date | undefined;
      if (values.since !== undefined) {
        since = new Date(values.since);
        if (!/^\d{4}-\d\d-\d\d/.test(values.since) || Number.isNaN(since.getTime())) {
          process.stderr.write(
            `pim-server: --since must be an ISO 8601 time (e.g. 2026-01-31T00:00:00Z), got "${values.since}"\n${usage}\n`,
          );
          return 2;
        }
      }
      if (positionals.length !== 1) {
        process.stderr.write(`pim-server: expected exactly one DIR\n${usage}\n`);
        return 2;
      }
      const dir = positionals[0]!;
      await withServerDb(dir, async (db) => {
        let buf = '';
        for (const line of exportRecords(new Store(db).audit, { since, device: values.device })) {
          buf += `${line}\n`;
          if (buf.length >= 1 << 20) {
            await write(buf);
            buf = '';
          }
        }
        if (buf) await write(buf);
      });
      return 0;
    }
    default:
      throw new RepoError('usage: pim-server audit verify|export …');
  }
}

/** Writes to stdout, waiting when the pipe is full (large exports). */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text)) return resolve();
    const done = (e?: Error) => {
      process.stdout.off('drain', done);
      process.stdout.off('error', done);
      if (e) reject(e);
      else resolve();
    };
    process.stdout.on('drain', done);
    process.stdout.on('error', done);
  });
}

/** Runs fn against DIR's server.db (created on first use), closed afterwards. */
function withServerDb<T>(dir: string, fn: (db: ServerDb) => T): T {
  readState(dir);
  const db = openServerDb(dir);
  let async = false;
  try {
    const r = fn(db);
    if (r instanceof Promise) {
      async = true;
      return r.finally(() => db.close()) as T;
    }
    return r;
  } finally {
    if (!async) db.close();
  }
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

function one(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new RepoError(`expected exactly one ${name}`);
  return positionals[0]!;
}
