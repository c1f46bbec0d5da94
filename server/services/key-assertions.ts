// Security-key assertions and their signature counters: verify one, and store its counter only if
// it still grows, flagging the key when it went backwards (a clone is suspected).
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { ApiError, forbidden } from '../api/errors';
import type { ServerConfig } from '../config';
import type { Transact } from '../store/store';
import type { UsersStore } from '../store/users-store';
import { COUNTER_REGRESSED, verifyAssertion, type StoredCredential } from '../webauthn';
import type { Clock } from './ids';

/** How long a challenge (activation or approval) may wait for the key touch. */
export const NONCE_TTL_MS = 5 * 60_000;

export class KeyAssertions {
  constructor(
    private readonly deps: {
      cfg: ServerConfig;
      users: Pick<UsersStore, 'advanceCounter' | 'flagCredential'>;
      transaction: Transact;
      clock: Clock;
    },
  ) {}

  /** Verify, and flag the key when its counter went backwards. */
  async verify(
    response: AuthenticationResponseJSON,
    credential: StoredCredential,
    expectedChallenge: string,
    requireUV: boolean,
  ) {
    try {
      return await verifyAssertion(this.deps.cfg, response, credential, expectedChallenge, requireUV);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'counter-regressed') this.flag(credential.id);
      throw e;
    }
  }

  /** Stores a verified assertion's counter, only if it still grows: two assertions verified at the
   *  same time both read the old counter, and the second to commit must count as a regression. */
  storeCounter(credentialId: string, newCounter: number): void {
    if (!this.deps.users.advanceCounter(credentialId, newCounter))
      throw forbidden('counter-regressed', COUNTER_REGRESSED);
  }

  /** Runs `fn` in a transaction; when storeCounter refused inside it, flags the key after the
   *  rollback (the flag must survive it). */
  flaggingRegression<T>(credentialId: string, fn: () => T): T {
    try {
      return this.deps.transaction(fn);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'counter-regressed') this.flag(credentialId);
      throw e;
    }
  }

  private flag(credentialId: string): void {
    this.deps.users.flagCredential(credentialId, this.deps.clock().toISOString());
  }
}
