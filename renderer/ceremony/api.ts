// Same-origin calls to the control plane's ceremony endpoints. They need no device signature:
// the WebAuthn challenge binds each one to one stored request.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/browser';
import { PimError } from '../../shared/errors';
import { EXPECTED_KIND, type ActivationOutcome, type Ceremony, type CeremonyRoute } from './model';

/** The page's own reasons a call failed, plus whatever code the control plane refused with
 *  (server/api/errors.ts, ApiErrorCode), as it sent it. `status` is the HTTP status, 0 without one. */
export type CeremonyApiErrorCode = 'unreachable' | 'garbage' | 'http-error' | (string & Record<never, never>);

export class CeremonyApiError extends PimError<CeremonyApiErrorCode> {
  constructor(
    code: CeremonyApiErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

const endpoint = (r: CeremonyRoute) => `/api/v1/ceremony/${r.kind}/${encodeURIComponent(r.id)}`;

async function call<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers:
        body === undefined
          ? { accept: 'application/json' }
          : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch {
    throw new CeremonyApiError(
      'unreachable',
      'Cannot reach the control plane. Check your connection and reload this page.',
      0,
    );
  }
  let payload: { ok?: boolean; value?: T; error?: { code?: string; message?: string } };
  try {
    payload = (await res.json()) as typeof payload;
  } catch {
    throw new CeremonyApiError(
      'garbage',
      `The control plane answered HTTP ${res.status} with something unexpected.`,
      res.status,
    );
  }
  if (!res.ok || payload.ok !== true) {
    throw new CeremonyApiError(
      String(payload.error?.code ?? 'http-error'),
      String(payload.error?.message ?? `HTTP ${res.status}`),
      res.status,
    );
  }
  return payload.value as T;
}

export async function loadCeremony(route: CeremonyRoute): Promise<Ceremony> {
  const c = await call<Ceremony>('GET', endpoint(route));
  if (c?.kind !== EXPECTED_KIND[route.kind])
    throw new CeremonyApiError(
      'garbage',
      'The control plane sent a different kind of ceremony than this page asked for.',
      200,
    );
  return c;
}

export function submitRegistration(
  route: CeremonyRoute,
  response: RegistrationResponseJSON,
): Promise<{ user: string }> {
  return call('POST', endpoint(route), { response });
}

export function submitAssertion(
  route: CeremonyRoute,
  response: AuthenticationResponseJSON,
): Promise<ActivationOutcome> {
  return call('POST', endpoint(route), { response });
}

/** Server refusals after which touching the key again cannot help: the page says so, no retry. */
export const FINAL_ERRORS: ReadonlySet<string> = new Set([
  'nonce-used',
  'nonce-expired',
  'ceremony-done',
  'not-pending',
  'already-decided',
  'enrolment-done',
  'enrolment-expired',
  'enrolment-code-used',
  'enrolment-restart',
  'not-found',
  'not-allowed',
  'counter-regressed',
  'origin-not-allowed',
  'rp-id-mismatch',
  'not-an-approver',
  'challenge-mismatch',
]);
