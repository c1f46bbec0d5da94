// The control plane's SSH certificate authority (docs/architecture.md, Decisions: SSH). An Ed25519 key — sshpk signs
// RSA CAs with SHA-1 (ssh-rsa), which current sshd refuses — kept 0600 at DIR/keys/ssh-ca in the
// OpenSSH private key format, created on first use (or at `init`). Servers trust it with
//   TrustedUserCAKeys /etc/ssh/pim-ca.pub     (the line `GET /ssh-ca.pub` or `pim-server ssh-ca` prints)
// It signs user certificates for the ephemeral key inside an activation request, valid for the
// activation's window only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sshpk from 'sshpk';
import { PimError, errorCode, errorMessage } from '../../shared/errors';
import { ensurePrivateDir, withLock, writeAtomic } from '../../platform/fs-safe';

export const SSH_CA_COMMENT = 'pim-ssh-ca';

/** the extension every certificate carries; grants may add others (e.g. permit-port-forwarding) */
export const BASE_EXTENSIONS = ['permit-pty'] as const;

export function sshCaPath(dir: string): string {
  return path.join(dir, 'keys', 'ssh-ca');
}

/** The SSH CA key is unusable, or a certificate request is one we will not sign. */
export type SshCaErrorCode = 'ssh-ca';

export class SshCaError extends PimError<SshCaErrorCode> {
  constructor(message: string, options?: ErrorOptions) {
    super('ssh-ca', message, options);
  }
}

export interface UserCertRequest {
  /** "ssh-ed25519 AAAA…" (a comment after it is ignored) */
  publicKey: string;
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date;
  /** extension names (flags, empty data), written sorted and without duplicates */
  extensions: string[];
  /** comment after the certificate on its line */
  comment: string;
}

export interface SignedUserCert {
  /** "ssh-ed25519-cert-v01@openssh.com AAAA… COMMENT" */
  line: string;
  serial: string;
  /** the window as written into the certificate (whole seconds) */
  validAfter: Date;
  validBefore: Date;
}

export class SshCa {
  private cache: { stamp: string; key: sshpk.PrivateKey } | null = null;

  constructor(readonly dir: string) {}

  /** The CA's private key, created (once, under the repository lock) when there is none yet. */
  privateKey(): sshpk.PrivateKey {
    const file = sshCaPath(this.dir);
    let st = statOrNull(file);
    if (!st) {
      const fresh = sshpk.generatePrivateKey('ed25519');
      withLock(this.dir, () => {
        if (fs.existsSync(file)) return; // another process made it meanwhile: that one counts
        ensurePrivateDir(path.dirname(file));
        fresh.comment = SSH_CA_COMMENT;
        writeAtomic(file, fresh.toString('openssh'), 0o600);
      });
      st = statOrNull(file);
      if (!st) throw new SshCaError(`could not create the SSH CA key at ${file}`);
    }
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (this.cache?.stamp !== stamp) {
      let key: sshpk.PrivateKey;
      try {
        key = sshpk.parsePrivateKey(fs.readFileSync(file), 'openssh', { filename: file });
      } catch (e) {
        throw new SshCaError(`the SSH CA key ${file} is unreadable: ${errorMessage(e)}`);
      }
      if (key.type !== 'ed25519')
        throw new SshCaError(
          `the SSH CA key ${file} is ${key.type}; it must be ed25519 (sshpk signs RSA certificates with SHA-1, which sshd refuses)`,
        );
      this.cache = { stamp, key };
    }
    return this.cache.key;
  }

  /** The line for sshd's TrustedUserCAKeys: "ssh-ed25519 AAAA… pim-ssh-ca". */
  publicKeyLine(): string {
    const pub = this.privateKey().toPublic();
    pub.comment = SSH_CA_COMMENT;
    return pub.toString('ssh');
  }

  /** Signs a user certificate (type user, no critical options). */
  signUserCert(req: UserCertRequest): SignedUserCert {
    let subjectKey: sshpk.Key;
    try {
      subjectKey = sshpk.parseKey(req.publicKey.trim(), 'ssh');
    } catch {
      throw new SshCaError('the SSH public key is not a valid OpenSSH public key line');
    }
    if (subjectKey.type !== 'ed25519')
      throw new SshCaError(`the SSH public key must be ssh-ed25519, not ${subjectKey.type}`);
    if (req.principals.length === 0) throw new SshCaError('a certificate needs at least one principal');
    for (const p of req.principals)
      if (!/^[^\s,]{1,256}$/.test(p)) throw new SshCaError(`"${p}" is not a valid principal`);
    for (const x of req.extensions)
      if (!/^[A-Za-z0-9@._-]{1,64}$/.test(x)) throw new SshCaError(`"${x}" is not an SSH certificate extension name`);
    // sshd reads whole seconds; never let the certificate outlive its window by a fraction
    const validAfter = new Date(Math.floor(req.validAfter.getTime() / 1000) * 1000);
    const validBefore = new Date(Math.floor(req.validBefore.getTime() / 1000) * 1000);
    if (validBefore.getTime() <= validAfter.getTime()) throw new SshCaError('the certificate window is empty');
    const ca = this.privateKey();
    const serial = crypto.randomBytes(8);
    const cert = new sshpk.Certificate({
      subjects: req.principals.map((p) => sshpk.identityForUser(p)),
      subjectKey,
      issuer: sshpk.identityForHost('**'), // OpenSSH certificates name no issuer, only its key
      issuerKey: ca.toPublic(),
      // filled in by the openssh format's sign(): keyId and extensions are read from here
      signatures: { openssh: { keyId: req.keyId, exts: extensionList(req.extensions) } } as never,
      serial,
      validFrom: validAfter,
      validUntil: validBefore,
    });
    // sign for the openssh format only (an X.509 signature would be meaningless here)
    const openssh = (sshpk.Certificate.formats as unknown as { openssh: sshpk.Format.OpenSshCert }).openssh;
    if (!openssh.sign(cert, ca)) throw new SshCaError('sshpk could not sign the certificate');
    const line = cert.toString('openssh', { comment: req.comment });
    return { line, serial: BigInt(`0x${serial.toString('hex')}`).toString(), validAfter, validBefore };
  }
}

/** sshpk's structure for certificate extensions: flags with empty data, sorted (PROTOCOL.certkeys
 *  asks for lexical order), no duplicates, none critical (critical options would be force-command
 *  or source-address; we set none). */
function extensionList(names: string[]): sshpk.Format.OpenSshSignatureExt[] {
  return [...new Set(names)].sort().map((name) => ({ critical: false, name, data: Buffer.alloc(0) }));
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return null;
    throw e;
  }
}
