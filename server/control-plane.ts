// The control plane's decisions about people: enrolment, activation requests, WebAuthn ceremonies,
// approvals, and the state machine (shared/activation-state) persisted in server.db. HTTP lives
// in api/; this file is what the routes call, and what the tests drive directly.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import {
  ActivationRequestSchema,
  activationChallenge,
  approvalChallenge,
  objectHash,
  toBase64Url,
  type ActivationRequest,
  type ActivationView,
  type ApprovalStatement,
} from '../shared/activation';
export type { ActivationView } from '../shared/activation';
import { canonicalJson } from '../shared/canonical';
import { transition, type ActivationEvent, type ActivationState } from '../shared/activation-state';
import { subjectFromMember } from '../shared/policy/compile';
import { decide } from '../shared/policy/engine';
import type { Decision, Subject } from '../shared/policy/types';
import type { IssuedCredentials } from '../shared/credentials';
import { ApiError, bad, conflict, forbidden, notFound } from './api/errors';
import type { ServerConfig } from './config';
import { mintCredentials } from './credentials/issue';
import { IssuerKeys } from './credentials/issuer-keys';
import { SshCa, SshCaError } from './credentials/ssh-ca';
import { paths, readCurrentPolicy, type CurrentPolicy } from './repo/repository';
import type { Statement } from 'better-sqlite3';
import type { ServerDb } from './store/db';
import { admit, APPROVAL_TTL_MS, quorum, type Admission } from './admission';
import {
  assertionOptions,
  COUNTER_REGRESSED,
  registrationOptions,
  verifyAssertion,
  verifyRegistration,
  type StoredCredential,
} from './webauthn';

export const NONCE_TTL_MS = 5 * 60_000;
export { APPROVAL_TTL_MS } from './admission';
const ENROLMENT_TTL_MS = 15 * 60_000;

/** 128 random bits, base64url, never starting with '-' or '_': people paste ids into command
 *  lines (`pim deny ID`), where a leading '-' reads as an option. */
const newId = (): string => {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
};
const sha256hex = (s: string | Buffer) => crypto.createHash('sha256').update(s).digest('hex');

export interface Caller {
  email: string;
  device: string;
}

interface ActivationRow {
  id: string;
  email: string;
  device: string;
  role: string;
  request_json: string;
  request_sha256: string;
  nonce: string;
  nonce_expires_at: string;
  nonce_used_at: string | null;
  needs_approval: number;
  approvals_needed: number;
  state: ActivationState;
  assertion_json: string | null;
  credential_id: string | null;
  created_at: string;
  decided_at: string | null;
  starts_at: string | null;
  expires_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  extends_id: string | null;
}

export class ControlPlane {
  /** 'change' (activation id) after every state transition: what long-polling agents wait on */
  readonly events = new EventEmitter().setMaxListeners(0);

  constructor(
    readonly dir: string,
    readonly db: ServerDb,
    readonly cfg: ServerConfig,
    private readonly clock: () => Date = () => new Date(),
    /** a connection without fsync on commit (see openLightDb), for writes an OS crash may lose
     *  without harm: the replay cache and requests not signed yet; db when absent */
    private readonly lightDb: ServerDb | null = null,
  ) {}

  private now(): Date {
    return this.clock();
  }

  clockNow(): Date {
    return this.clock();
  }

  private statements = new Map<string, Statement<unknown[]>>();

  /** Prepared once per SQL text: preparing costs more than running these small queries.
   *  `light` runs it on the no-fsync connection (see lightDb). */
  private sql(text: string, light = false): Statement<unknown[]> {
    const conn = light && this.lightDb ? this.lightDb : this.db;
    const key = conn === this.db ? text : `light:${text}`;
    let st = this.statements.get(key);
    if (!st) {
      st = conn.prepare<unknown[]>(text);
      this.statements.set(key, st);
    }
    return st;
  }

  // --- policy ------------------------------------------------------------------------------

  private policyCache: { stamp: string; policy: CurrentPolicy } | null = null;

  /** The policy as last published (re-read only when `publish` replaced the file). */
  policy(): CurrentPolicy {
    let stamp = '';
    try {
      const st = fs.statSync(paths(this.dir).current);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      throw new ApiError(503, 'no-policy', 'no policy has been published yet (pim-server publish)');
    }
    if (this.policyCache?.stamp !== stamp) {
      const p = readCurrentPolicy(this.dir);
      if (!p) throw new ApiError(503, 'no-policy', 'no policy has been published yet (pim-server publish)');
      this.policyCache = { stamp, policy: p };
    }
    return this.policyCache.policy;
  }

  subject(email: string): Subject {
    const m = this.policy().members.find((x) => x.email === email);
    return m ? subjectFromMember(m) : { email, groups: [], assignments: [] };
  }

  // --- users, devices, keys ------------------------------------------------------------------

  /** A user and a one-time enrolment code (only its hash is stored). */
  addUser(email: string, groups: string[], codeTtlMs = 24 * 3600_000): { code: string; expiresAt: string } {
    const e = normaliseEmail(email);
    const now = this.now();
    const code = crypto.randomBytes(18).toString('base64url');
    const expiresAt = new Date(now.getTime() + codeTtlMs).toISOString();
    this.db.transaction(() => {
      this.sql(
        'INSERT INTO users (email, extra_groups, created_at) VALUES (?, ?, ?) ON CONFLICT(email) DO UPDATE SET extra_groups = excluded.extra_groups',
      ).run(e, JSON.stringify(groups), now.toISOString());
      this.sql('INSERT INTO enrolment_codes (code_sha256, email, expires_at) VALUES (?, ?, ?)').run(
        sha256hex(code),
        e,
        expiresAt,
      );
    })();
    return { code, expiresAt };
  }

  extraMembers(): { email: string; groups: string[] }[] {
    return (this.sql('SELECT email, extra_groups FROM users').all() as { email: string; extra_groups: string }[]).map(
      (r) => ({ email: r.email, groups: JSON.parse(r.extra_groups) as string[] }),
    );
  }

  credentialsOf(email: string): StoredCredential[] {
    return (
      this.sql(
        'SELECT id, public_key, counter, transports FROM credentials WHERE email = ? AND revoked_at IS NULL',
      ).all(email) as { id: string; public_key: Buffer; counter: number; transports: string }[]
    ).map((r) => ({
      id: r.id,
      publicKey: new Uint8Array(r.public_key),
      counter: r.counter,
      transports: JSON.parse(r.transports) as string[],
    }));
  }

  deviceKey(thumbprint: string): { email: string; jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string } } | null {
    const r = this.sql('SELECT email, public_jwk FROM devices WHERE thumbprint = ? AND revoked_at IS NULL').get(
      thumbprint,
    ) as { email: string; public_jwk: string } | undefined;
    return r ? { email: r.email, jwk: JSON.parse(r.public_jwk) } : null;
  }

  /** The device key of an enrolment in progress (it signs its own status polls). */
  pendingDeviceJwk(thumbprint: string): { kty: 'OKP'; crv: 'Ed25519'; x: string } | null {
    const r = this.sql(
      'SELECT device_jwk FROM enrolments WHERE device_thumbprint = ? ORDER BY expires_at DESC LIMIT 1',
    ).get(thumbprint) as { device_jwk: string } | undefined;
    return r ? JSON.parse(r.device_jwk) : null;
  }

  private jtiPruned = 0;

  /** Records a device-request id; false when it was seen before (a replay). */
  rememberJti(jti: string, expSeconds: number): boolean {
    const nowS = Math.floor(this.now().getTime() / 1000);
    if (nowS - this.jtiPruned >= 10) {
      this.sql('DELETE FROM device_jti WHERE expires_at < ?', true).run(nowS);
      this.jtiPruned = nowS;
    }
    return (
      this.sql('INSERT OR IGNORE INTO device_jti (jti, expires_at) VALUES (?, ?)', true).run(jti, expSeconds)
        .changes === 1
    );
  }

  revokeKey(email: string, credentialId: string): boolean {
    return (
      this.sql('UPDATE credentials SET revoked_at = ? WHERE email = ? AND id = ? AND revoked_at IS NULL').run(
        this.now().toISOString(),
        normaliseEmail(email),
        credentialId,
      ).changes === 1
    );
  }

  revokeDevice(thumbprint: string): boolean {
    return this.revokeDeviceAccess(thumbprint).device;
  }

  /** Revokes a device and every live (active or approved) activation it requested, with reason
   *  "device revoked": nothing it holds may be refreshed, and the agents' long polls see it. Its
   *  requests still waiting (to be signed, or approved) end too: none may take effect later. */
  revokeDeviceAccess(thumbprint: string): { device: boolean; activations: string[]; requests: string[] } {
    const now = this.now();
    return this.db.transaction(() => {
      const device =
        this.sql('UPDATE devices SET revoked_at = ? WHERE thumbprint = ? AND revoked_at IS NULL').run(
          now.toISOString(),
          thumbprint,
        ).changes === 1;
      const live = this.sql(
        "SELECT id FROM activations WHERE device = ? AND state IN ('active', 'approved') ORDER BY created_at",
      ).all(thumbprint) as { id: string }[];
      for (const r of live) this.end(r.id, { type: 'revoke' }, now, 'device revoked');
      const waiting = this.sql(
        "SELECT id FROM activations WHERE device = ? AND state IN ('requested', 'pending-approval') ORDER BY created_at",
      ).all(thumbprint) as { id: string }[];
      for (const r of waiting)
        this.end(r.id, { type: 'refused' }, now, 'the device that signed the request was revoked');
      return { device, activations: live.map((r) => r.id), requests: waiting.map((r) => r.id) };
    })();
  }

  listUsers(): { email: string; devices: string[]; keys: { id: string; flagged: boolean; revoked: boolean }[] }[] {
    const users = this.sql('SELECT email FROM users ORDER BY email').all() as { email: string }[];
    return users.map(({ email }) => ({
      email,
      devices: (
        this.sql('SELECT thumbprint FROM devices WHERE email = ? AND revoked_at IS NULL').all(email) as {
          thumbprint: string;
        }[]
      ).map((d) => d.thumbprint),
      keys: (
        this.sql('SELECT id, flagged_at, revoked_at FROM credentials WHERE email = ?').all(email) as {
          id: string;
          flagged_at: string | null;
          revoked_at: string | null;
        }[]
      ).map((k) => ({ id: k.id, flagged: k.flagged_at !== null, revoked: k.revoked_at !== null })),
    }));
  }

  // --- enrolment ---------------------------------------------------------------------------

  /** Step 1 (agent): trade a code + the new device's public key for a registration ceremony. */
  async startEnrolment(code: string, deviceJwk: { kty: string; crv: string; x: string }, thumbprint: string) {
    const row = this.sql(
      'SELECT code_sha256, email, expires_at, used_at FROM enrolment_codes WHERE code_sha256 = ?',
    ).get(sha256hex(String(code))) as
      { code_sha256: string; email: string; expires_at: string; used_at: string | null } | undefined;
    if (!row) throw forbidden('bad-enrolment-code', 'this enrolment code is not valid; ask your admin for a new link');
    if (row.used_at)
      throw forbidden('enrolment-code-used', 'this enrolment code was already used; ask your admin for a new link');
    if (Date.parse(row.expires_at) <= this.now().getTime())
      throw forbidden('enrolment-code-expired', 'this enrolment code has expired; ask your admin for a new link');
    if (deviceJwk?.kty !== 'OKP' || deviceJwk?.crv !== 'Ed25519' || typeof deviceJwk?.x !== 'string')
      throw bad('bad-device-key', 'the device key must be an Ed25519 JWK');
    const options = await registrationOptions(
      this.cfg,
      { email: row.email, id: Buffer.from(sha256hex(row.email), 'hex').subarray(0, 16) },
      this.credentialsOf(row.email),
    );
    const id = newId();
    this.sql(
      'INSERT INTO enrolments (id, code_sha256, email, device_jwk, device_thumbprint, challenge, expires_at, options_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      id,
      row.code_sha256,
      row.email,
      JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: deviceJwk.x }),
      thumbprint,
      options.challenge,
      new Date(this.now().getTime() + ENROLMENT_TTL_MS).toISOString(),
      JSON.stringify(options),
    );
    return { id, user: row.email, ceremonyUrl: `${this.cfg.publicUrl}/ceremony/enrol/${id}`, options };
  }

  enrolmentCeremony(id: string) {
    const e = this.enrolment(id);
    if (e.completed_at)
      throw conflict('enrolment-done', 'this security key is already registered: you can close this page');
    if (Date.parse(e.expires_at) <= this.now().getTime())
      throw forbidden('enrolment-expired', 'this enrolment ceremony expired; run `pim enroll` again');
    const options = JSON.parse(e.options_json ?? 'null') as Awaited<ReturnType<typeof registrationOptions>> | null;
    if (!options)
      throw new ApiError(
        410,
        'enrolment-restart',
        'this enrolment ceremony is no longer available: run `pim enroll` again',
      );
    return { kind: 'enrolment' as const, user: e.email, device: e.device_thumbprint, options };
  }

  private enrolment(id: string) {
    const e = this.sql('SELECT * FROM enrolments WHERE id = ?').get(id) as
      | {
          id: string;
          code_sha256: string;
          email: string;
          device_jwk: string;
          device_thumbprint: string;
          challenge: string;
          expires_at: string;
          completed_at: string | null;
          options_json: string | null;
        }
      | undefined;
    if (!e) throw notFound('enrolment');
    return e;
  }

  /** Step 2 (ceremony page): the security key's registration binds user + device + key. */
  async finishEnrolment(id: string, response: RegistrationResponseJSON): Promise<{ user: string }> {
    const e = this.enrolment(id);
    if (e.completed_at) throw conflict('enrolment-done', 'this enrolment is already complete');
    if (Date.parse(e.expires_at) <= this.now().getTime())
      throw forbidden('enrolment-expired', 'this enrolment ceremony expired; run `pim enroll` again');
    const info = await verifyRegistration(this.cfg, response, e.challenge);
    const now = this.now().toISOString();
    this.db.transaction(() => {
      const code = this.sql('UPDATE enrolment_codes SET used_at = ? WHERE code_sha256 = ? AND used_at IS NULL').run(
        now,
        e.code_sha256,
      );
      if (code.changes !== 1) throw forbidden('enrolment-code-used', 'this enrolment code was already used');
      this.sql(
        'INSERT INTO devices (thumbprint, email, public_jwk, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(thumbprint) DO UPDATE SET email = excluded.email, public_jwk = excluded.public_jwk, revoked_at = NULL',
      ).run(e.device_thumbprint, e.email, e.device_jwk, now);
      this.sql(
        'INSERT INTO credentials (id, email, public_key, counter, transports, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(
        info.credential.id,
        e.email,
        Buffer.from(info.credential.publicKey),
        info.credential.counter,
        JSON.stringify(info.credential.transports ?? []),
        now,
      );
      this.sql('UPDATE enrolments SET completed_at = ? WHERE id = ?').run(now, id);
    })();
    return { user: e.email };
  }

  enrolmentStatus(id: string, thumbprint: string): { state: 'waiting' | 'complete' | 'expired'; user: string } {
    const e = this.enrolment(id);
    if (e.device_thumbprint !== thumbprint) throw forbidden('wrong-device', 'this enrolment belongs to another device');
    const state = e.completed_at
      ? 'complete'
      : Date.parse(e.expires_at) <= this.now().getTime()
        ? 'expired'
        : 'waiting';
    return { state, user: e.email };
  }

  // --- activation --------------------------------------------------------------------------

  /** Decide a request with the same engine the agent used offline, against the current policy. */
  evaluate(request: ActivationRequest, activeCount: number): Decision {
    const p = this.policy();
    const role = p.roles.roles.find((r) => r.name === request.role);
    if (!role) throw bad('unknown-role', `no role named "${request.role}" in policy v${p.version}`);
    return decide({
      subject: this.subject(request.user),
      role,
      now: this.now(),
      mode: 'request',
      ask: {
        duration: request.duration,
        justification: request.justification ?? undefined,
        ticket: request.ticket ?? undefined,
      },
      activeCount,
      policyExpires: new Date(p.expires),
    });
  }

  async createActivation(
    caller: Caller,
    input: unknown,
  ): Promise<{
    activation: ActivationView;
    decision: Decision;
    options: Awaited<ReturnType<typeof assertionOptions>>;
  }> {
    const parsed = ActivationRequestSchema.safeParse(input);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw bad('bad-request', `activation request: ${i?.path.join('.') || 'request'}: ${i?.message ?? 'invalid'}`);
    }
    const request = parsed.data;
    if (request.user !== caller.email || request.device !== caller.device)
      throw forbidden('not-your-request', 'the request names another user or device than the one that signed it');
    const skew = Math.abs(Date.parse(request.requestedAt) - this.now().getTime());
    if (skew > NONCE_TTL_MS)
      throw bad('stale-request', 'requestedAt is more than 5 minutes away from the control plane clock');
    const policy = this.policy();
    if (request.policyVersion > policy.version)
      throw bad(
        'unknown-policy-version',
        `policy v${request.policyVersion} does not exist (current is v${policy.version})`,
      );
    if (request.kind === 'extend') this.checkExtends(caller, request);
    this.sweep();
    const active = (
      this.sql(
        "SELECT COUNT(*) AS n FROM activations WHERE email = ? AND role = ? AND state IN ('active', 'approved')",
      ).get(request.user, request.role) as { n: number }
    ).n;
    const decision = this.evaluate(request, request.kind === 'extend' ? Math.max(0, active - 1) : active);
    if (!decision.allowed) {
      const why = decision.reasons.filter((r) => r.blocking);
      throw new ApiError(403, 'not-allowed', why.map((r) => `${r.code}: ${r.message}`).join('; '));
    }
    const credentials = this.credentialsOf(request.user);
    if (credentials.length === 0)
      throw forbidden('no-security-key', 'you have no security key enrolled; run `pim enroll`');
    const id = newId();
    const nonce = crypto.randomBytes(32).toString('hex');
    const now = this.now();
    const approval = decision.requirements.approval;
    // Not signed yet, so nothing is granted: this row may skip the fsync (lightDb). If an OS crash
    // loses it, the user simply asks again. The signed outcome is committed durably.
    this.sql(
      `INSERT INTO activations (id, email, device, role, request_json, request_sha256, nonce, nonce_expires_at, needs_approval, approvals_needed, state, created_at, extends_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', ?, ?)`,
      true,
    ).run(
      id,
      request.user,
      request.device,
      request.role,
      canonicalJson(request),
      objectHash(request),
      nonce,
      new Date(now.getTime() + NONCE_TTL_MS).toISOString(),
      approval ? 1 : 0,
      approval?.count ?? 0,
      now.toISOString(),
      request.extends,
    );
    const options = await assertionOptions(
      this.cfg,
      activationChallenge(nonce, request),
      credentials,
      decision.requirements.userVerification,
    );
    return { activation: this.view(this.row(id)), decision, options };
  }

  private checkExtends(caller: Caller, request: ActivationRequest): void {
    const prev = this.sql('SELECT * FROM activations WHERE id = ?').get(request.extends) as ActivationRow | undefined;
    if (!prev || prev.email !== caller.email) throw notFound('activation to extend');
    if (prev.state !== 'active')
      throw conflict('not-active', `only an active role can be extended (this one is ${prev.state})`);
    if (prev.role !== request.role) throw bad('role-mismatch', 'an extension must be for the same role');
  }

  /** What the ceremony page shows and signs: public by design (the challenge is bound to it). */
  async activationCeremony(id: string) {
    const row = this.row(id);
    if (row.state !== 'requested') throw conflict('ceremony-done', `this request is already ${row.state}`);
    const request = JSON.parse(row.request_json) as ActivationRequest;
    const role = this.policy().roles.roles.find((r) => r.name === row.role);
    const options = await assertionOptions(
      this.cfg,
      activationChallenge(row.nonce, request),
      this.credentialsOf(row.email),
      role?.activation.userVerification ?? 'required',
    );
    return {
      kind: 'activation' as const,
      id,
      request,
      requestSha256: row.request_sha256,
      nonce: row.nonce,
      nonceExpiresAt: row.nonce_expires_at,
      needsApproval: row.needs_approval === 1,
      options,
    };
  }

  /** The key touch arrives: verify it against the stored request, consume the nonce, move on. */
  async submitActivationAssertion(id: string, response: AuthenticationResponseJSON): Promise<ActivationView> {
    const row = this.row(id);
    const now = this.now();
    if (row.nonce_used_at) throw forbidden('nonce-used', 'this request was already signed (an assertion counts once)');
    if (Date.parse(row.nonce_expires_at) <= now.getTime())
      throw forbidden('nonce-expired', 'the request expired before the key was touched (5 minutes); ask again');
    if (row.state !== 'requested') throw conflict('ceremony-done', `this request is already ${row.state}`);
    const request = JSON.parse(row.request_json) as ActivationRequest;
    const policy = this.policy();
    const role = policy.roles.roles.find((r) => r.name === row.role);
    if (!role) throw forbidden('unknown-role', 'the role no longer exists');
    // a revoked key is no longer listed, so a challenge issued before its revocation cannot be signed
    const credential = this.credentialsOf(row.email).find((c) => c.id === response?.id);
    if (!credential)
      throw forbidden('unknown-credential', 'this security key is not enrolled for this user (or was revoked)');
    const expected = toBase64Url(activationChallenge(row.nonce, request));
    const { newCounter } = await this.verifyCounted(
      response,
      credential,
      expected,
      role.activation.userVerification === 'required',
    );
    this.flaggingRegression(credential.id, () => {
      // the nonce is consumed atomically: a second submission of anything fails here
      const used = this.sql(
        'UPDATE activations SET nonce_used_at = ?, assertion_json = ?, credential_id = ? WHERE id = ? AND nonce_used_at IS NULL',
      ).run(now.toISOString(), JSON.stringify(response), credential.id, id);
      if (used.changes !== 1) throw forbidden('nonce-used', 'this request was already signed');
      this.storeCounter(credential.id, newCounter);
      // checked after the signature verified (an unsigned POST must not end someone's request), in
      // the transaction that starts it: the facts cannot change between the check and the start
      const admission = this.admission(this.row(id), now, null);
      if (!admission.ok) return this.end(id, { type: 'refused' }, now, `not granted when signed: ${admission.message}`);
      // whether it waits for approvers, and for how many, is the policy in force now, not the one
      // it was asked under: a role made to need approval (or more of it) meanwhile does not start
      const approval = admission.decision.requirements.approval;
      this.sql('UPDATE activations SET needs_approval = ?, approvals_needed = ? WHERE id = ?').run(
        approval ? 1 : 0,
        approval?.count ?? 0,
        id,
      );
      this.apply(id, { type: 'assertion-verified', needsApproval: approval !== null }, now);
      if (!approval) this.start(id, now);
    });
    return this.view(this.row(id));
  }

  /** The facts admit() needs about a request that is about to take effect, read now. */
  private admission(row: ActivationRow, now: Date, pendingSince: Date | null): Admission {
    const policy = this.policy();
    const request = JSON.parse(row.request_json) as ActivationRequest;
    const prev = row.extends_id ? this.row(row.extends_id) : null;
    const live = this.sql(
      "SELECT COUNT(*) AS n FROM activations WHERE email = ? AND role = ? AND state IN ('active', 'approved') AND id != ? AND id != ?",
    ).get(row.email, row.role, row.id, row.extends_id ?? '') as { n: number };
    return admit({
      request,
      now,
      role: policy.roles.roles.find((r) => r.name === row.role) ?? null,
      policyVersion: policy.version,
      policyExpires: new Date(policy.expires),
      subject: this.subject(row.email),
      activeCount: live.n,
      deviceEnrolled: this.deviceKey(row.device) !== null,
      pendingSince,
      extending: prev ? { state: prev.state, endReason: prev.end_reason } : null,
    });
  }

  /** Stores a verified assertion's counter, only if it still grows: two assertions verified at the
   *  same time both read the old counter, and the second to commit must count as a regression. */
  private storeCounter(credentialId: string, newCounter: number): void {
    const stored = this.sql(
      'UPDATE credentials SET counter = @counter WHERE id = @id AND (counter < @counter OR (counter = 0 AND @counter = 0))',
    ).run({ counter: newCounter, id: credentialId });
    if (stored.changes !== 1) throw forbidden('counter-regressed', COUNTER_REGRESSED);
  }

  /** Runs `fn` in a transaction; when storeCounter refused inside it, flags the key after the
   *  rollback (the flag must survive it). */
  private flaggingRegression<T>(credentialId: string, fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'counter-regressed') this.flag(credentialId);
      throw e;
    }
  }

  private flag(credentialId: string): void {
    this.sql('UPDATE credentials SET flagged_at = ? WHERE id = ? AND flagged_at IS NULL').run(
      this.now().toISOString(),
      credentialId,
    );
  }

  /** Verify, and flag the key when its counter went backwards (a clone is suspected). */
  private async verifyCounted(
    response: AuthenticationResponseJSON,
    credential: StoredCredential,
    expectedChallenge: string,
    requireUV: boolean,
  ) {
    try {
      return await verifyAssertion(this.cfg, response, credential, expectedChallenge, requireUV);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'counter-regressed') this.flag(credential.id);
      throw e;
    }
  }

  private start(id: string, now: Date): void {
    const row = this.row(id);
    const request = JSON.parse(row.request_json) as ActivationRequest;
    let startsAt = now;
    if (row.extends_id) {
      // an extension continues the active window; the previous activation ends where this begins
      const prev = this.row(row.extends_id);
      if (prev.state === 'active' && prev.expires_at)
        startsAt = new Date(Math.max(now.getTime(), Date.parse(prev.expires_at)));
      if (prev.state === 'active') this.end(prev.id, { type: 'deactivate' }, now, `extended by ${id}`);
    }
    this.apply(id, { type: 'start' }, now);
    const expiresAt = new Date((row.extends_id ? startsAt.getTime() : now.getTime()) + request.duration * 1000);
    this.sql('UPDATE activations SET starts_at = ?, expires_at = ? WHERE id = ?').run(
      now.toISOString(),
      expiresAt.toISOString(),
      id,
    );
  }

  private apply(id: string, event: ActivationEvent, now: Date): ActivationState {
    const row = this.row(id);
    const t = transition(row.state, event);
    if (!t.ok) throw conflict('bad-transition', t.error);
    const decided = ['approved', 'denied', 'pending-approval'].includes(t.state) ? now.toISOString() : row.decided_at;
    this.sql('UPDATE activations SET state = ?, decided_at = ? WHERE id = ? AND state = ?').run(
      t.state,
      decided,
      id,
      row.state,
    );
    // listeners only resolve promises: they read the row after this transaction has committed
    this.events.emit('change', id);
    return t.state;
  }

  private end(id: string, event: ActivationEvent, now: Date, reason: string): void {
    this.apply(id, event, now);
    this.sql('UPDATE activations SET ended_at = ?, end_reason = ? WHERE id = ?').run(now.toISOString(), reason, id);
  }

  deactivate(caller: Caller, id: string): ActivationView {
    const row = this.row(id);
    if (row.email !== caller.email) throw notFound('activation');
    this.db.transaction(() => this.end(id, { type: 'deactivate' }, this.now(), 'deactivated by the user'))();
    return this.view(this.row(id));
  }

  revoke(id: string, reason: string): ActivationView {
    this.db.transaction(() => this.end(id, { type: 'revoke' }, this.now(), reason))();
    return this.view(this.row(id));
  }

  getActivation(caller: Caller, id: string): ActivationView {
    this.sweep();
    const row = this.row(id);
    if (row.email !== caller.email && !this.canApprove(caller.email, row)) throw notFound('activation');
    return this.view(row);
  }

  /** Long poll: the activation as soon as its state differs from `seen`, or as it is after `timeoutMs`. */
  async waitForChange(caller: Caller, id: string, seen: string, timeoutMs: number): Promise<ActivationView> {
    const now = this.getActivation(caller, id);
    if (now.state !== seen) return now;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off('change', onChange);
        resolve();
      };
      const onChange = (changed: string) => changed === id && done();
      const timer = setTimeout(done, timeoutMs);
      timer.unref(); // a pending long poll must not keep a stopping server alive
      this.events.on('change', onChange);
    });
    return this.getActivation(caller, id);
  }

  /** Every activation, newest first (admin view: `pim-server activation list`); `live` keeps those
   *  not ended yet. */
  allActivations(opts: { live?: boolean; limit?: number } = {}): (ActivationView & { device: string })[] {
    this.sweep();
    const where = opts.live ? "WHERE state IN ('requested', 'pending-approval', 'approved', 'active')" : '';
    const rows = this.sql(`SELECT * FROM activations ${where} ORDER BY created_at DESC LIMIT ?`).all(
      opts.limit ?? 1000,
    ) as ActivationRow[];
    return rows.map((r) => ({ ...this.view(r), device: r.device }));
  }

  listActivations(caller: Caller): ActivationView[] {
    this.sweep();
    return (
      this.sql('SELECT * FROM activations WHERE email = ? ORDER BY created_at DESC LIMIT 200').all(
        caller.email,
      ) as ActivationRow[]
    ).map((r) => this.view(r));
  }

  /** Time-driven transitions: unsigned requests after 5 min, unapproved after 24 h, windows ending. */
  private lastSweep = -Infinity;

  sweep(): void {
    const now = this.now();
    // time-driven transitions need second precision, not a scan on every call
    if (now.getTime() - this.lastSweep < 1000 && now.getTime() >= this.lastSweep) return;
    this.lastSweep = now.getTime();
    const iso = now.toISOString();
    this.db.transaction(() => {
      for (const r of this.sql("SELECT id FROM activations WHERE state = 'requested' AND nonce_expires_at <= ?").all(
        iso,
      ) as { id: string }[])
        this.end(r.id, { type: 'request-timeout' }, now, 'not signed within 5 minutes');
      const cutoff = new Date(now.getTime() - APPROVAL_TTL_MS).toISOString();
      for (const r of this.sql("SELECT id FROM activations WHERE state = 'pending-approval' AND decided_at <= ?").all(
        cutoff,
      ) as { id: string }[])
        this.end(r.id, { type: 'request-timeout' }, now, 'not approved within 24 hours');
      for (const r of this.sql("SELECT id FROM activations WHERE state = 'active' AND expires_at <= ?").all(iso) as {
        id: string;
      }[])
        this.end(r.id, { type: 'window-ended' }, now, 'the activation window ended');
    })();
  }

  // --- credentials -------------------------------------------------------------------------

  private issuerKeysCache: IssuerKeys | null = null;
  private sshCaCache: SshCa | null = null;

  /** The token-signing keys (DIR/keys/issuer), created on first use. */
  get issuerKeys(): IssuerKeys {
    return (this.issuerKeysCache ??= new IssuerKeys(this.dir, this.clock));
  }

  /** The SSH CA (DIR/keys/ssh-ca), created on first use. */
  get sshCa(): SshCa {
    return (this.sshCaCache ??= new SshCa(this.dir));
  }

  /** Credentials for an active activation (shared/credentials.ts), to the device that requested it
   *  only, and never past the activation's end. The agent asks again while the activation lives
   *  (kube tokens last 15 minutes at most); once it ended, the answer is 409 not-active. */
  async issueCredentials(caller: Caller, id: string): Promise<IssuedCredentials> {
    this.sweep();
    const row = this.row(id);
    if (row.email !== caller.email) throw notFound('activation');
    if (row.device !== caller.device)
      throw forbidden(
        'wrong-device',
        'credentials for this activation are issued only to the device that requested it',
      );
    const now = this.now();
    const ended = row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime();
    if (row.state !== 'active' || ended || !row.starts_at || !row.expires_at)
      throw conflict('not-active', notActiveMessage(row));
    const policy = this.policy();
    const role = policy.roles.roles.find((r) => r.name === row.role);
    if (!role)
      throw conflict(
        'role-removed',
        `role ${row.role} is no longer in the policy (v${policy.version}): nothing can be issued for it`,
      );
    const request = JSON.parse(row.request_json) as ActivationRequest;
    try {
      return await mintCredentials({
        issuer: this.cfg.publicUrl,
        now,
        activation: {
          id: row.id,
          user: row.email,
          role: row.role,
          startsAt: new Date(row.starts_at),
          expiresAt: new Date(row.expires_at),
          sshPublicKey: request.sshPublicKey,
        },
        role,
        clusters: policy.roles.clusters,
        keys: this.issuerKeys,
        ca: this.sshCa,
      });
    } catch (e) {
      if (e instanceof SshCaError) throw bad('bad-ssh-key', e.message);
      throw e;
    }
  }

  // --- approvals ---------------------------------------------------------------------------

  private canApprove(approver: string, row: ActivationRow): boolean {
    const role = this.policy().roles.roles.find((r) => r.name === row.role);
    const rule = role?.activation.approval;
    if (!rule) return false;
    const subj = this.subject(approver);
    return rule.approvers.users.includes(approver) || subj.groups.some((g) => rule.approvers.groups.includes(g));
  }

  pendingApprovals(caller: Caller): ActivationView[] {
    this.sweep();
    const rows = this.sql(
      "SELECT * FROM activations WHERE state = 'pending-approval' ORDER BY created_at",
    ).all() as ActivationRow[];
    return rows
      .filter(
        (r) =>
          this.canApprove(caller.email, r) &&
          this.selfApprovalOk(caller.email, r) &&
          !this.hasDecided(r.id, caller.email),
      )
      .map((r) => this.view(r));
  }

  private selfApprovalOk(approver: string, row: ActivationRow): boolean {
    const rule = this.policy().roles.roles.find((r) => r.name === row.role)?.activation.approval;
    return approver !== row.email || rule?.selfApproval === true;
  }

  private hasDecided(id: string, approver: string): boolean {
    return this.sql('SELECT 1 FROM approvals WHERE activation_id = ? AND approver = ?').get(id, approver) !== undefined;
  }

  /** An approver asks to decide: returns the statement to sign and its ceremony. */
  async approvalChallenge(caller: Caller, id: string, decision: 'approve' | 'deny', reason: string | null) {
    this.sweep();
    const row = this.row(id);
    if (!this.canApprove(caller.email, row))
      throw forbidden('not-an-approver', `you are not an approver for ${row.role}`);
    if (!this.selfApprovalOk(caller.email, row))
      throw forbidden('self-approval-forbidden', `${row.role} does not allow approving your own request`);
    if (row.state !== 'pending-approval') throw conflict('not-pending', `this request is ${row.state}`);
    if (this.hasDecided(id, caller.email)) throw conflict('already-decided', 'you already decided on this request');
    if (decision === 'deny' && !reason?.trim())
      throw bad('reason-required', 'a denial needs a reason the requester will see');
    const statement: ApprovalStatement = {
      v: 1,
      activation: id,
      requestHash: row.request_sha256,
      decision,
      approver: caller.email,
      reason: reason?.trim() || null,
    };
    const nonce = crypto.randomBytes(32).toString('hex');
    this.sql(
      'INSERT INTO approval_challenges (nonce, activation_id, approver, statement_json, expires_at, device) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(
      nonce,
      id,
      caller.email,
      JSON.stringify(statement),
      new Date(this.now().getTime() + NONCE_TTL_MS).toISOString(),
      caller.device,
    );
    const options = await assertionOptions(
      this.cfg,
      approvalChallenge(nonce, statement),
      this.credentialsOf(caller.email),
      'required',
    );
    return { ceremonyId: nonce, statement, ceremonyUrl: `${this.cfg.publicUrl}/ceremony/approval/${nonce}`, options };
  }

  async approvalCeremony(nonce: string) {
    const c = this.approvalRow(nonce);
    const statement = JSON.parse(c.statement_json) as ApprovalStatement;
    const row = this.row(c.activation_id);
    const options = await assertionOptions(
      this.cfg,
      approvalChallenge(nonce, statement),
      this.credentialsOf(c.approver),
      'required',
    );
    return {
      kind: 'approval' as const,
      statement,
      request: JSON.parse(row.request_json) as ActivationRequest,
      requester: row.email,
      options,
    };
  }

  private approvalRow(nonce: string) {
    const c = this.sql('SELECT * FROM approval_challenges WHERE nonce = ?').get(String(nonce)) as
      | {
          nonce: string;
          activation_id: string;
          approver: string;
          statement_json: string;
          expires_at: string;
          used_at: string | null;
          device: string | null;
        }
      | undefined;
    if (!c) throw notFound('approval ceremony');
    return c;
  }

  async submitApprovalAssertion(nonce: string, response: AuthenticationResponseJSON): Promise<ActivationView> {
    const c = this.approvalRow(nonce);
    const now = this.now();
    if (c.used_at) throw forbidden('nonce-used', 'this approval was already signed');
    if (Date.parse(c.expires_at) <= now.getTime())
      throw forbidden('nonce-expired', 'the approval expired before the key was touched; decide again');
    const statement = JSON.parse(c.statement_json) as ApprovalStatement;
    const row = this.row(c.activation_id);
    // the 24 h deadline is the server's, whatever the sweep has done yet: a touch after it grants nothing
    if (
      row.state === 'pending-approval' &&
      row.decided_at &&
      now.getTime() >= Date.parse(row.decided_at) + APPROVAL_TTL_MS
    ) {
      this.db.transaction(() => this.end(row.id, { type: 'request-timeout' }, now, 'not approved within 24 hours'))();
      throw conflict(
        'approval-deadline-passed',
        'this request was not approved within 24 hours and has expired; the requester must ask again',
      );
    }
    if (row.state !== 'pending-approval') throw conflict('not-pending', `this request is ${row.state}`);
    if (!this.canApprove(c.approver, row))
      throw forbidden('not-an-approver', `${c.approver} is no longer an approver for ${row.role}`);
    if (!this.selfApprovalOk(c.approver, row))
      throw forbidden('self-approval-forbidden', `${row.role} does not allow approving your own request`);
    if (statement.requestHash !== row.request_sha256)
      throw forbidden('challenge-mismatch', 'the approval is for another request');
    // the approver's device asked for this challenge; once it is revoked, what it asked for is void
    if (c.device !== null && this.deviceKey(c.device) === null)
      throw forbidden(
        'device-revoked',
        'the device that asked for this approval was revoked; decide again from an enrolled device',
      );
    // a revoked key is no longer listed, so a challenge issued before its revocation cannot be signed
    const credential = this.credentialsOf(c.approver).find((k) => k.id === response?.id);
    if (!credential)
      throw forbidden('unknown-credential', 'this security key is not enrolled for the approver (or was revoked)');
    const { newCounter } = await this.verifyCounted(
      response,
      credential,
      toBase64Url(approvalChallenge(nonce, statement)),
      true,
    );
    this.flaggingRegression(credential.id, () => {
      const used = this.sql('UPDATE approval_challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL').run(
        now.toISOString(),
        nonce,
      );
      if (used.changes !== 1) throw forbidden('nonce-used', 'this approval was already signed');
      // the same approver through two challenges: the second one only learns it was too late
      if (this.hasDecided(row.id, c.approver)) throw conflict('already-decided', 'you already decided on this request');
      const current = this.row(row.id);
      if (current.state !== 'pending-approval') throw conflict('not-pending', `this request is ${current.state}`);
      this.storeCounter(credential.id, newCounter);
      this.sql(
        'INSERT INTO approvals (activation_id, approver, decision, reason, statement_json, nonce, assertion_json, credential_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        row.id,
        c.approver,
        statement.decision,
        statement.reason,
        c.statement_json,
        nonce,
        JSON.stringify(response),
        credential.id,
        now.toISOString(),
      );
      if (statement.decision === 'deny') {
        this.end(row.id, { type: 'denied' }, now, `denied by ${c.approver}: ${statement.reason ?? ''}`);
      } else {
        this.afterApproval(current, now);
      }
    });
    return this.view(this.row(row.id));
  }

  /** An approval was recorded: start the request if the policy in force now allows it and enough
   *  approvals count under it. Only approvals by people who may approve now count (an approver
   *  removed from the group after approving no longer does), against the count the policy asks now
   *  (raised from 1 to 2 while it waited: one approval is not enough). */
  private afterApproval(current: ActivationRow, now: Date): void {
    const admission = this.admission(current, now, current.decided_at ? new Date(current.decided_at) : null);
    const rule = this.policy().roles.roles.find((r) => r.name === current.role)?.activation.approval;
    const approvers = (
      this.sql("SELECT DISTINCT approver FROM approvals WHERE activation_id = ? AND decision = 'approve'").all(
        current.id,
      ) as { approver: string }[]
    ).map((a) => a.approver);
    const { needed, reached } = quorum({
      admission,
      approvers,
      mayApprove: (a) => this.canApprove(a, current) && this.selfApprovalOk(a, current),
      storedNeeded: current.approvals_needed,
      ruleCount: rule?.count ?? null,
    });
    // the requester sees how many approvals the policy asks for now
    if (needed !== current.approvals_needed)
      this.sql('UPDATE activations SET approvals_needed = ? WHERE id = ?').run(needed, current.id);
    if (!reached) return;
    // the last approval: the request takes effect only if the policy in force now allows it
    if (!admission.ok) {
      if (admission.expired) this.end(current.id, { type: 'request-timeout' }, now, admission.message);
      else this.end(current.id, { type: 'refused' }, now, `not granted when approved: ${admission.message}`);
      return;
    }
    this.apply(current.id, { type: 'quorum-reached' }, now);
    this.start(current.id, now);
  }

  // --- views -------------------------------------------------------------------------------

  private row(id: string): ActivationRow {
    const r = this.sql('SELECT * FROM activations WHERE id = ?').get(String(id)) as ActivationRow | undefined;
    if (!r) throw notFound('activation');
    return r;
  }

  /** The stored evidence for an activation: request bytes, nonce, assertion, approvals. */
  evidence(id: string) {
    const r = this.row(id);
    return {
      request: r.request_json,
      requestSha256: r.request_sha256,
      nonce: r.nonce,
      assertion: r.assertion_json ? (JSON.parse(r.assertion_json) as AuthenticationResponseJSON) : null,
      credentialId: r.credential_id,
      approvals: this.sql(
        'SELECT approver, decision, reason, statement_json AS statement, nonce, assertion_json AS assertion, credential_id AS credentialId FROM approvals WHERE activation_id = ?',
      ).all(id),
    };
  }

  /** evidence(), for the activation's owner only (the agent journals it); others see no such activation */
  evidenceFor(caller: Caller, id: string) {
    if (this.row(id).email !== caller.email) throw notFound('activation');
    return this.evidence(id);
  }

  private view(r: ActivationRow): ActivationView {
    const approvals = this.sql(
      'SELECT approver, decision, reason, created_at AS at FROM approvals WHERE activation_id = ? ORDER BY created_at',
    ).all(r.id) as ActivationView['approvals'];
    return {
      id: r.id,
      user: r.email,
      role: r.role,
      state: r.state,
      request: JSON.parse(r.request_json) as ActivationRequest,
      requestSha256: r.request_sha256,
      createdAt: r.created_at,
      startsAt: r.starts_at,
      expiresAt: r.expires_at,
      endReason: r.end_reason,
      approvals,
      approvalsNeeded: r.approvals_needed,
      ceremonyUrl: r.state === 'requested' ? `${this.cfg.publicUrl}/ceremony/activation/${r.id}` : null,
    };
  }
}

/** Why an activation gets no credentials, in words a person acts on. */
function notActiveMessage(row: ActivationRow): string {
  const role = `role ${row.role}`;
  const reason = row.end_reason ? ` (${row.end_reason})` : '';
  switch (row.state) {
    case 'active':
    case 'expired':
      return `${role} expired at ${row.expires_at ?? row.ended_at}: activate it again to get new credentials`;
    case 'deactivated':
      return `${role} was deactivated at ${row.ended_at}${reason}`;
    case 'revoked':
      return `${role} was revoked: ${row.end_reason ?? 'no reason given'}`;
    case 'denied':
      return `${role} was not granted: ${row.end_reason ?? 'denied'}`;
    case 'request-expired':
      return `${role} was never activated${reason}`;
    default:
      return `${role} is not active yet (${row.state})`;
  }
}

export function normaliseEmail(email: string): string {
  const e = String(email).trim().toLowerCase();
  if (!/^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+$/.test(e))
    throw bad('bad-email', `"${email}" is not an e-mail address`);
  return e;
}
