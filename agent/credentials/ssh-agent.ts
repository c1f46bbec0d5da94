// A small client for the user's ssh-agent (draft-miller-ssh-agent): list identities, add an activation's key +
// certificate with a lifetime, remove it again. No library does this: ssh2's agent client cannot add identities and
// drops certificate keys from its listings (docs/architecture.md, Platform facts).
//
// One connection per call, a time-out on every call, answers size-capped and parsed strictly.
// Key material (the seed) only ever goes down the socket: never into an error message or a log.
//
// Windows' OpenSSH agent ignores lifetime constraints: there the caller must remove the identity
// itself when the activation ends (it does so everywhere at teardown anyway; the lifetime is the
// safety net for a crashed agent process).
import net from 'node:net';
import { PimError } from '../../shared/errors';
import { parseCertificate, sshKeyFromSeed, type EphemeralSshKey } from './ssh-key';

export type SshAgentErrorCode =
  'no-agent' | 'agent-unreachable' | 'agent-refused' | 'expired-certificate' | 'bad-answer';

export class SshAgentError extends PimError<SshAgentErrorCode> {}

// message numbers (draft-miller-ssh-agent §5.1)
export const SSH_AGENT_FAILURE = 5;
export const SSH_AGENT_SUCCESS = 6;
export const SSH_AGENTC_REQUEST_IDENTITIES = 11;
export const SSH_AGENT_IDENTITIES_ANSWER = 12;
export const SSH_AGENTC_REMOVE_IDENTITY = 18;
export const SSH_AGENTC_ADD_ID_CONSTRAINED = 25;
export const SSH_AGENT_CONSTRAIN_LIFETIME = 1;
/** failure codes of older agents (ssh.com protocol 2, ssh.com); OpenSSH's ssh-add treats them as FAILURE */
const OTHER_FAILURES = new Set([30, 102]);

const DEFAULT_TIMEOUT_MS = 5_000;
/** OpenSSH's own limit on an agent message (AGENT_MAX_LEN) */
export const MAX_ANSWER_BYTES = 256 * 1024;
const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com';
/** What a comment may hold: printable ASCII, e.g. "pim:<role>:<activation>" (ssh-add -l prints it). */
const COMMENT = /^[\x20-\x7e]{1,255}$/;

/** Where Windows' OpenSSH agent service listens; its ssh.exe uses it when SSH_AUTH_SOCK is unset. */
export const WINDOWS_AGENT_PIPE = '\\\\.\\pipe\\openssh-ssh-agent';

/** The agent's socket: $SSH_AUTH_SOCK (on Windows, else the OpenSSH agent service's pipe), or
 *  SshAgentError('no-agent') saying how to start one. */
export function agentSocket(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  const sock = env.SSH_AUTH_SOCK;
  if (typeof sock === 'string' && sock.trim() !== '') return sock;
  if (platform === 'win32') return WINDOWS_AGENT_PIPE;
  throw new SshAgentError(
    'no-agent',
    'No ssh-agent is running for this session (SSH_AUTH_SOCK is not set), so the SSH credentials of this activation were not added. ' +
      'Start one — eval "$(ssh-agent)" in your shell, or enable your desktop\'s SSH agent — then run `pim credentials` from that shell: the certificate is added while the role is active.',
  );
}

export interface AgentIdentity {
  /** the key (or certificate) wire blob */
  blob: Buffer;
  /** its type: "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", … */
  type: string;
  comment: string;
}

/** A value from a certificate, safe to put in a message (quoted, escaped, short). */
function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

// ---- wire encoding -------------------------------------------------------------------------

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([u32(b.length), b]);
}

/** uint32 length ‖ payload */
function frame(payload: Buffer): Buffer {
  return Buffer.concat([u32(payload.length), payload]);
}

/** Reads what an agent answer holds, turning every overrun into a 'bad-answer'. */
class Reader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  uint32(): number {
    this.need(4);
    const n = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return n;
  }
  string(): Buffer {
    const n = this.uint32();
    this.need(n);
    const s = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return s;
  }
  end(): void {
    if (this.off !== this.buf.length)
      throw new SshAgentError(
        'bad-answer',
        `the ssh-agent's answer has ${this.buf.length - this.off} unexpected trailing bytes`,
      );
  }
  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new SshAgentError('bad-answer', "the ssh-agent's answer is truncated");
  }
}

// ---- one request, one answer ---------------------------------------------------------------

/**
 * Sends one framed request on a fresh connection and resolves with the answer's payload (without
 * its length). Every failure is an SshAgentError: unreachable socket, time-out, oversized, empty
 * or truncated answer.
 */
function request(sock: string, payload: Buffer, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    let chunks: Buffer[] = [];
    let have = 0;
    const conn = net.createConnection(sock);
    const finish = (err: SshAgentError | null, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new SshAgentError('agent-unreachable', `the ssh-agent at ${sock} did not answer within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    conn.on('connect', () => conn.write(frame(payload)));
    conn.on('data', (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      if (have < 4) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      chunks = [all];
      const len = all.readUInt32BE(0);
      if (len === 0) return finish(new SshAgentError('bad-answer', 'the ssh-agent sent an empty message'));
      if (len > MAX_ANSWER_BYTES)
        return finish(
          new SshAgentError(
            'bad-answer',
            `the ssh-agent's answer is too large (${len} bytes, at most ${MAX_ANSWER_BYTES})`,
          ),
        );
      if (have > 4 + len) return finish(new SshAgentError('bad-answer', 'the ssh-agent sent more than one answer'));
      if (have === 4 + len) finish(null, Buffer.from(all.subarray(4)));
    });
    conn.on('end', () => {
      finish(
        new SshAgentError(
          'bad-answer',
          have === 0 ? 'the ssh-agent closed the connection without answering' : "the ssh-agent's answer is truncated",
        ),
      );
    });
    conn.on('close', () =>
      finish(new SshAgentError('bad-answer', 'the ssh-agent closed the connection without answering')),
    );
    conn.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'ENOENT'
          ? 'it does not exist'
          : e.code === 'ECONNREFUSED'
            ? 'nothing is listening there'
            : e.code === 'EACCES'
              ? 'permission denied'
              : (e.code ?? e.message);
      finish(
        new SshAgentError(
          'agent-unreachable',
          `cannot reach the ssh-agent at ${sock} (${why}). Is it still running? Check SSH_AUTH_SOCK.`,
        ),
      );
    });
  });
}

function checkTimeout(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new RangeError('timeoutMs must be a positive number of milliseconds');
  return timeoutMs;
}

/** SUCCESS → true, FAILURE → false, anything else → 'bad-answer'. */
function successOrFailure(answer: Buffer, what: string): boolean {
  const r = new Reader(answer);
  const type = r.byte();
  if (type === SSH_AGENT_SUCCESS || type === SSH_AGENT_FAILURE || OTHER_FAILURES.has(type)) {
    r.end();
    return type === SSH_AGENT_SUCCESS;
  }
  throw new SshAgentError(
    'bad-answer',
    `the ssh-agent answered ${what} with message type ${type} instead of SUCCESS or FAILURE`,
  );
}

// ---- the three operations ------------------------------------------------------------------

/** Every identity the agent holds, certificates included (SSH_AGENTC_REQUEST_IDENTITIES). */
export async function listIdentities(sock: string, opts: { timeoutMs?: number } = {}): Promise<AgentIdentity[]> {
  const answer = await request(sock, Buffer.from([SSH_AGENTC_REQUEST_IDENTITIES]), checkTimeout(opts.timeoutMs));
  const r = new Reader(answer);
  const type = r.byte();
  if (type !== SSH_AGENT_IDENTITIES_ANSWER) {
    throw new SshAgentError(
      'bad-answer',
      `the ssh-agent answered the identity listing with message type ${type} instead of ${SSH_AGENT_IDENTITIES_ANSWER}`,
    );
  }
  const n = r.uint32();
  // each identity takes at least 8 bytes: a count beyond that is a lie, not a reason to allocate
  if (n > answer.length / 8)
    throw new SshAgentError('bad-answer', `the ssh-agent claims ${n} identities in a ${answer.length}-byte answer`);
  const out: AgentIdentity[] = [];
  for (let i = 0; i < n; i++) {
    const blob = Buffer.from(r.string());
    const comment = r.string().toString('utf8');
    const kr = new Reader(blob);
    let keyType: string;
    try {
      keyType = kr.string().toString('ascii');
    } catch {
      throw new SshAgentError('bad-answer', `identity ${i + 1} of the ssh-agent's listing has no key type`);
    }
    out.push({ blob, type: keyType, comment });
  }
  r.end();
  return out;
}

/**
 * Adds an activation's key and certificate to the agent with a lifetime
 * (SSH_AGENTC_ADD_ID_CONSTRAINED + SSH_AGENT_CONSTRAIN_LIFETIME), in the layout OpenSSH 9.2
 * accepts for an Ed25519 certificate:
 *   byte 25, string "ssh-ed25519-cert-v01@openssh.com", string certBlob, string pub(32),
 *   string seed‖pub(64), string comment, byte 1, uint32 seconds.
 * The lifetime is the asked one cut to what is left of the certificate (rounded up, at least 1 s).
 * A certificate that has already expired, or that certifies another key, is refused with
 * 'expired-certificate' before the agent is contacted.
 */
export async function addCertificate(
  sock: string,
  o: {
    certificate: string;
    key: EphemeralSshKey;
    comment: string;
    lifetimeSeconds: number;
    now?: Date;
    timeoutMs?: number;
  },
): Promise<void> {
  if (typeof o.comment !== 'string' || !COMMENT.test(o.comment)) {
    throw new RangeError(
      'the ssh-agent comment must be 1–255 printable ASCII characters (no control characters), e.g. pim:<role>:<activation>',
    );
  }
  if (typeof o.lifetimeSeconds !== 'number' || !Number.isFinite(o.lifetimeSeconds) || o.lifetimeSeconds <= 0) {
    throw new RangeError('lifetimeSeconds must be a positive number');
  }
  const { key } = o;
  if (
    !Buffer.isBuffer(key.seed) ||
    key.seed.length !== 32 ||
    !Buffer.isBuffer(key.rawPublic) ||
    key.rawPublic.length !== 32
  ) {
    throw new RangeError('the SSH key must be an Ed25519 key (32-byte seed and public key)');
  }
  if (!sshKeyFromSeed(key.seed).rawPublic.equals(key.rawPublic))
    throw new RangeError('the SSH key is inconsistent: its seed does not give its public key');
  const timeoutMs = checkTimeout(o.timeoutMs);

  const cert = parseCertificate(o.certificate);
  if (cert.type !== ED25519_CERT)
    throw new SshAgentError('expired-certificate', `the certificate is a ${cert.type}, expected ${ED25519_CERT}`);
  // the certified key: string "ssh-ed25519", string pub(32)
  const certKey = new Reader(Buffer.from(cert.publicKey.split(' ')[1]!, 'base64'));
  certKey.string();
  if (!certKey.string().equals(key.rawPublic)) {
    throw new SshAgentError(
      'expired-certificate',
      `the certificate ${quote(cert.keyId)} is for another key than this activation's: not added to the ssh-agent`,
    );
  }
  const now = o.now ?? new Date();
  const leftMs = cert.validBefore.getTime() - now.getTime();
  if (leftMs <= 0) {
    throw new SshAgentError(
      'expired-certificate',
      `the certificate ${quote(cert.keyId)} expired at ${cert.validBefore.toISOString()}: not added to the ssh-agent`,
    );
  }
  const seconds = Math.max(1, Math.min(Math.ceil(o.lifetimeSeconds), Math.ceil(leftMs / 1000), 0xffffffff));

  const payload = Buffer.concat([
    Buffer.from([SSH_AGENTC_ADD_ID_CONSTRAINED]),
    sshString(ED25519_CERT),
    sshString(cert.blob),
    sshString(key.rawPublic),
    sshString(Buffer.concat([key.seed, key.rawPublic])),
    sshString(o.comment),
    Buffer.from([SSH_AGENT_CONSTRAIN_LIFETIME]),
    u32(seconds),
  ]);
  const answer = await request(sock, payload, timeoutMs);
  if (!successOrFailure(answer, 'the new identity')) {
    throw new SshAgentError(
      'agent-refused',
      `the ssh-agent refused the certificate ${quote(cert.keyId)} (it may be locked, or not support Ed25519 certificates or lifetimes): SSH credentials were not added`,
    );
  }
}

/** Removes one identity (SSH_AGENTC_REMOVE_IDENTITY): true when removed, false when it was not there. */
export async function removeIdentity(sock: string, blob: Buffer, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  if (!Buffer.isBuffer(blob) || blob.length === 0)
    throw new RangeError('removeIdentity needs the key or certificate blob');
  const answer = await request(
    sock,
    Buffer.concat([Buffer.from([SSH_AGENTC_REMOVE_IDENTITY]), sshString(blob)]),
    checkTimeout(opts.timeoutMs),
  );
  return successOrFailure(answer, 'the removal');
}
