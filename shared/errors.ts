// One error model for all of PIM Agent: every error we throw on purpose is a PimError with a stable
// code (each module exports its codes as a union next to its class) and a message for people. The
// boundaries map them generically — agent/api/dispatch.ts to the UI contract's { code, message },
// server/api/errors.ts to an HTTP status — so a new error class needs no new case there. Pure: the
// agent, the control plane and the renderer all use it.

/** An error of ours: `code` is what programs and tests match on, `message` what people read. */
export class PimError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    // the subclass's own name ("RefreshError: …" in logs and stacks), without each one saying it again
    this.name = new.target.name;
  }
}

/** `instanceof PimError` types the code as `any`; this says what it is: a string. */
export function isPimError(e: unknown): e is PimError {
  return e instanceof PimError;
}

/** The message of anything thrown: an Error's message, a thrown string as it is, else its String(). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string') return e.message;
  return String(e);
}

/** The code of anything thrown, if it has one as a string: a PimError's, or Node's ('ENOENT', …). */
export function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

/** The name of anything thrown, if it has one as a string ('TimeoutError', 'AbortError', …). */
export function errorName(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'name' in e && typeof e.name === 'string') return e.name;
  return undefined;
}

/** The `cause` an error carries, if any (fetch keeps the network failure there). */
export function errorCause(e: unknown): unknown {
  if (typeof e === 'object' && e !== null && 'cause' in e) return e.cause;
  return undefined;
}
