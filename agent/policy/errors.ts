// Why a policy refresh failed, in a form the UI, the CLI and (later) the audit journal can use.
// Kept free of tuf-js so the offline read path never loads it.
export class RefreshError extends Error {
  constructor(
    /** unreachable | http-error | garbage | rollback | mix-and-match | freeze | tampered | bad-signature | duplicate-keys | no-policy | invalid-policy | not-connected | error */
    readonly code: string,
    message: string,
    /** offline = could not reach the server; rejected = it answered something we refuse */
    readonly kind: 'offline' | 'rejected',
  ) {
    super(message);
  }
}
