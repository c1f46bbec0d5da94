// The control plane's token-signing keys (docs/architecture.md, Decisions: Kube credentials…; AWS, GCP and Azure): it
// is an OIDC-style issuer whose public keys are served at /.well-known/jwks.json, where kube API servers and AWS IAM
// OIDC providers fetch them.
//
// ES256 (P-256) keys, one private JWK per file under DIR/keys/issuer/ (0700 folder, 0600 files,
// written atomically), named <kid>.json with kid = the RFC 7638 thumbprint of the public key.
// Files are never modified after they are written, so a folder listing says everything:
//   - the newest key (createdAt) signs;
//   - every older key retires RETIRE_AFTER_MS after the key that replaced it was created: until
//     then it stays in the JWKS so tokens it signed keep verifying (they live 15 minutes at most);
//     after that it is left out of the JWKS, and `rotate` deletes its file.
// A running `serve` notices a rotation done by another process (`pim-server rotate-issuer-key`)
// on its next use: the folder is listed on each call (one readdir), files are re-read only when the
// listing changed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { errorCode, errorMessage } from '../../shared/errors';
import { ensurePrivateDir, withLock, writeAtomic } from '../../platform/fs-safe';

export const ISSUER_ALG = 'ES256';
/** how long a replaced key stays in the JWKS: well past the longest token life (15 minutes) */
export const RETIRE_AFTER_MS = 3600_000;

const KEY_FILE = /^[A-Za-z0-9_-]{43}\.json$/;

interface KeyFile {
  v: 1;
  kid: string;
  alg: typeof ISSUER_ALG;
  createdAt: string;
  privateJwk: JWK;
}

/** A public key as the JWKS publishes it. */
export interface PublicIssuerJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: typeof ISSUER_ALG;
  use: 'sig';
}

export interface IssuerKeyInfo {
  kid: string;
  createdAt: string;
  /** when it leaves the JWKS; null for the key that signs now */
  retiresAt: string | null;
  signing: boolean;
}

interface LoadedKey {
  kid: string;
  createdAt: number;
  retiresAt: number | null;
  privateJwk: JWK;
  publicJwk: PublicIssuerJwk;
}

export function issuerKeysDir(dir: string): string {
  return path.join(dir, 'keys', 'issuer');
}

/** keys/issuer, and keys/ above it, 0700 and really folders of ours (never followed links). */
function ensureIssuerKeysDir(dir: string): string {
  ensurePrivateDir(path.join(dir, 'keys'));
  return ensurePrivateDir(issuerKeysDir(dir));
}

async function newKeyFile(createdAt: Date): Promise<KeyFile> {
  const { privateKey } = await generateKeyPair(ISSUER_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'sha256');
  return {
    v: 1,
    kid,
    alg: ISSUER_ALG,
    createdAt: createdAt.toISOString(),
    privateJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d },
  };
}

export class IssuerKeys {
  private cache: { listing: string; keys: LoadedKey[] } | null = null;
  private imported = new Map<string, Promise<CryptoKey | Uint8Array>>();

  constructor(
    readonly dir: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Every key on disk, newest first, with its retirement time (re-read when the listing changed). */
  private load(): LoadedKey[] {
    const folder = issuerKeysDir(this.dir);
    let names: string[];
    try {
      names = fs
        .readdirSync(folder)
        .filter((n) => KEY_FILE.test(n))
        .sort();
    } catch (e) {
      if (errorCode(e) === 'ENOENT') names = [];
      else throw e;
    }
    const listing = names.join('\n');
    if (this.cache?.listing === listing) return this.cache.keys;
    const keys: LoadedKey[] = [];
    for (const name of names) {
      let f: KeyFile;
      try {
        f = JSON.parse(fs.readFileSync(path.join(folder, name), 'utf8')) as KeyFile;
      } catch (e) {
        // deleted between the listing and the read (a rotation pruned it): it no longer counts
        if (errorCode(e) === 'ENOENT') continue;
        throw new Error(`issuer key ${path.join(folder, name)} is unreadable: ${errorMessage(e)}`);
      }
      const j = f.privateJwk;
      if (
        f.alg !== ISSUER_ALG ||
        j?.kty !== 'EC' ||
        j.crv !== 'P-256' ||
        !j.x ||
        !j.y ||
        !j.d ||
        `${f.kid}.json` !== name
      ) {
        throw new Error(`issuer key ${path.join(folder, name)} is not an ES256 key named after its thumbprint`);
      }
      keys.push({
        kid: f.kid,
        createdAt: Date.parse(f.createdAt),
        retiresAt: null,
        privateJwk: j,
        publicJwk: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y, kid: f.kid, alg: ISSUER_ALG, use: 'sig' },
      });
    }
    keys.sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : 1));
    for (let i = 1; i < keys.length; i++) keys[i]!.retiresAt = keys[i - 1]!.createdAt + RETIRE_AFTER_MS;
    this.cache = { listing, keys };
    return keys;
  }

  /** Writes a new key that becomes the signer (created later than every key already there). */
  private async addKey(onlyIfNone: boolean): Promise<string | null> {
    const newest = this.load()[0];
    const at = new Date(Math.max(this.clock().getTime(), newest ? newest.createdAt + 1 : 0));
    const file = await newKeyFile(at);
    return withLock(this.dir, () => {
      const folder = ensureIssuerKeysDir(this.dir);
      const existing = this.load();
      if (onlyIfNone && existing.length > 0) return null; // another process created one meanwhile
      if (existing[0] && existing[0].createdAt >= Date.parse(file.createdAt))
        file.createdAt = new Date(existing[0].createdAt + 1).toISOString();
      writeAtomic(path.join(folder, `${file.kid}.json`), JSON.stringify(file, null, 2) + '\n', 0o600);
      return file.kid;
    });
  }

  /** Creates the first key when there is none (lazily on first use, or at `init`). */
  async ensure(): Promise<void> {
    if (this.load().length === 0) await this.addKey(true);
  }

  /** The key that signs now, imported for jose. */
  async signingKey(): Promise<{ kid: string; key: CryptoKey | Uint8Array }> {
    await this.ensure();
    const k = this.load()[0];
    if (!k) throw new Error('no issuer key');
    let key = this.imported.get(k.kid);
    if (!key) {
      key = importJWK(k.privateJwk, ISSUER_ALG);
      this.imported.set(k.kid, key);
    }
    return { kid: k.kid, key: await key };
  }

  /** The JWKS: public halves of the signer and of the keys not retired yet. */
  async jwks(): Promise<{ keys: PublicIssuerJwk[] }> {
    await this.ensure();
    const now = this.clock().getTime();
    return {
      keys: this.load()
        .filter((k) => k.retiresAt === null || k.retiresAt > now)
        .map((k) => ({ ...k.publicJwk })),
    };
  }

  list(): IssuerKeyInfo[] {
    return this.load().map((k) => ({
      kid: k.kid,
      createdAt: new Date(k.createdAt).toISOString(),
      retiresAt: k.retiresAt === null ? null : new Date(k.retiresAt).toISOString(),
      signing: k.retiresAt === null,
    }));
  }

  /** A new key becomes the signer; the previous ones stay published until their retirement time.
   *  Keys already past retirement are deleted. */
  async rotate(): Promise<{ kid: string; retiring: { kid: string; retiresAt: string }[]; deleted: string[] }> {
    const kid = (await this.addKey(false))!;
    const now = this.clock().getTime();
    const deleted: string[] = [];
    withLock(this.dir, () => {
      for (const k of this.load()) {
        if (k.retiresAt !== null && k.retiresAt <= now) {
          fs.rmSync(path.join(issuerKeysDir(this.dir), `${k.kid}.json`), { force: true });
          this.imported.delete(k.kid);
          deleted.push(k.kid);
        }
      }
    });
    const retiring = this.list()
      .filter((k) => k.retiresAt !== null)
      .map((k) => ({ kid: k.kid, retiresAt: k.retiresAt! }));
    return { kid, retiring, deleted };
  }
}

/** A random token id (jti). */
export function newJti(): string {
  return crypto.randomBytes(16).toString('base64url');
}
