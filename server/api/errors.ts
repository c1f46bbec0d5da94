// Every refusal the API gives: a stable code tests and clients rely on, a message, and the HTTP
// status that code is answered with — one table, so a code means one status everywhere.
import { PimError, isPimError } from '../../shared/errors';

/** Each code the API refuses with, and its HTTP status. */
export const HTTP_STATUS = {
  // the request itself is wrong
  'bad-input': 400,
  'bad-json': 400,
  'bad-gzip': 400,
  'bad-request': 400,
  'bad-email': 400,
  'bad-device-key': 400,
  'bad-ssh-key': 400,
  'invalid-assertion': 400,
  'reason-required': 400,
  'role-mismatch': 400,
  'stale-request': 400,
  'unknown-policy-version': 400,
  // 400 when a request names it; 403 when it vanished between the request and the key touch
  'unknown-role': 400,
  // the device signature on the call
  'device-signature-required': 401,
  'device-signature-invalid': 401,
  'device-signature-expired': 401,
  'device-signature-mismatch': 401,
  'device-signature-replayed': 401,
  'unknown-device': 401,
  // the caller may not do this
  'not-allowed': 403,
  'bad-signature': 403,
  'bad-enrolment-code': 403,
  'enrolment-code-expired': 403,
  'enrolment-code-used': 403,
  'enrolment-expired': 403,
  'registration-failed': 403,
  'no-security-key': 403,
  'unknown-credential': 403,
  'counter-regressed': 403,
  'challenge-mismatch': 403,
  'origin-not-allowed': 403,
  'rp-id-mismatch': 403,
  'user-verification-required': 403,
  'user-presence-required': 403,
  'nonce-expired': 403,
  'nonce-used': 403,
  'not-an-approver': 403,
  'not-your-request': 403,
  'self-approval-forbidden': 403,
  'wrong-device': 403,
  'device-revoked': 403,
  'not-found': 404,
  // the thing is no longer in the state the call needs
  'already-decided': 409,
  'bad-transition': 409,
  'ceremony-done': 409,
  'enrolment-done': 409,
  'not-active': 409,
  'not-pending': 409,
  'role-removed': 409,
  'approval-deadline-passed': 409,
  'enrolment-restart': 410,
  'too-large': 413,
  'batch-too-large': 413,
  'unsupported-encoding': 415,
  'unsupported-media-type': 415,
  internal: 500,
  'no-policy': 503,
  // the server is listening but its control plane is not set up yet (a moment at start)
  starting: 503,
} as const satisfies Record<string, number>;

export type ApiErrorCode = keyof typeof HTTP_STATUS;

export interface ApiErrorOptions extends ErrorOptions {
  /** a status other than the table's, for the one code whose meaning differs by route (unknown-role) */
  status?: number;
}

export class ApiError extends PimError<ApiErrorCode> {
  /** the HTTP status this refusal is answered with */
  readonly status: number;

  constructor(code: ApiErrorCode, message: string, options?: ApiErrorOptions) {
    super(code, message, options);
    this.status = options?.status ?? HTTP_STATUS[code];
  }
}

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.hasOwn(HTTP_STATUS, code);
}

/** A refusal with its code's status from the table. */
export const refuse = (code: ApiErrorCode, message: string, options?: ApiErrorOptions) =>
  new ApiError(code, message, options);

// The refusals by kind, as the services spell them; each status is the table's for its code.
export const bad = (code: ApiErrorCode, message: string) => refuse(code, message);
export const forbidden = (code: ApiErrorCode, message: string) => refuse(code, message);
export const notFound = (what: string) => refuse('not-found', `${what} not found`);
export const conflict = (code: ApiErrorCode, message: string) => refuse(code, message);
export const unauthorized = (code: ApiErrorCode, message: string) => refuse(code, message);

/** What any error thrown while answering a call becomes on the wire: an ApiError with its status,
 *  another error of ours whose code the table knows with the table's status; anything else is an
 *  internal error, its message and stack only in the server's log (they may name files or keys). */
export function httpError(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof ApiError) return { status: e.status, code: e.code, message: e.message };
  if (isPimError(e) && isApiErrorCode(e.code)) return { status: HTTP_STATUS[e.code], code: e.code, message: e.message };
  return { status: 500, code: 'internal', message: 'internal error in the control plane' };
}
