// Enrolling a device: the agent trades an enrolment code and its new device key for a registration
// ceremony, then polls until the security key was registered on the ceremony page.
import { z } from 'zod';
import { IdParams, WebAuthnOptions } from './common';
import { defineRoute, NoParams, NoQuery } from './route';

/** the device key, as a public Ed25519 JWK (only these members make it, or its thumbprint); its
 *  type is checked by the enrolment (bad-device-key) */
const DeviceJwk = z.object({ kty: z.string().max(20), crv: z.string().max(20), x: z.string().max(200) });

export const enrolmentRoutes = {
  /** signed with the new device key itself: proves the agent holds the key it asks to bind */
  startEnrolment: defineRoute({
    method: 'POST',
    path: '/api/v1/enrol/start',
    auth: 'new-device',
    params: NoParams,
    query: NoQuery,
    body: z.object({ code: z.string().max(200), deviceJwk: DeviceJwk }),
    output: z.object({ id: z.string(), user: z.string(), ceremonyUrl: z.string(), options: WebAuthnOptions }),
  }),
  /** what the enrolling agent polls, signed with the key being enrolled */
  enrolmentStatus: defineRoute({
    method: 'GET',
    path: '/api/v1/enrol/:id',
    auth: 'device',
    params: IdParams,
    query: NoQuery,
    output: z.object({ state: z.enum(['waiting', 'complete', 'expired']), user: z.string() }),
  }),
} as const;
