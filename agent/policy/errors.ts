// Why a policy refresh failed, in a form the UI, the CLI and (later) the audit journal can use.
// Kept free of tuf-js so the offline read path never loads it.
import { errorMessage, PimError } from '../../shared/errors';

export type RefreshErrorCode =
  | 'unreachable'
  | 'http-error'
  | 'garbage'
  | 'rollback'
  | 'mix-and-match'
  | 'freeze'
  | 'tampered'
  | 'bad-signature'
  | 'duplicate-keys'
  | 'no-policy'
  | 'invalid-policy'
  | 'not-connected'
  | 'error';

export class RefreshError extends PimError<RefreshErrorCode> {
  constructor(
    code: RefreshErrorCode,
    message: string,
    /** offline = could not reach the server; rejected = it answered something we refuse */
    readonly kind: 'offline' | 'rejected',
  ) {
    super(code, message);
  }
}

/** A caught refresh failure as the RefreshError it is (a refresh throws nothing else); anything
 *  else, which would be a bug, as a plain 'error' with its message. */
export function asRefreshError(e: unknown): RefreshError {
  return e instanceof RefreshError ? e : new RefreshError('error', errorMessage(e), 'rejected');
}
