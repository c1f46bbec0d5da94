// How one route of the control plane's /api/v1 is described: method, path with :params, who may
// call it, and zod schemas for its params, query, body (input) and reply value (output). The server
// validates what arrives against these (server/api/routes.ts) and the agent parses what comes back
// (agent/activation/cp-client.ts), so neither side trusts a cast.
import { z } from 'zod';

/** Who may call a route:
 *  - device: signed by an enrolled device key (Authorization: PIM-Device …, shared/device-jws);
 *  - new-device: signed by the key named in the body's deviceJwk (enrolment proves the agent holds it);
 *  - ceremony: unsigned; the ceremony page's WebAuthn challenge binds the call instead. */
export type RouteAuth = 'device' | 'new-device' | 'ceremony';

export interface RouteSpec {
  readonly method: 'GET' | 'POST';
  /** `/api/v1/…`, a segment `:name` being a path parameter */
  readonly path: `/api/v1/${string}`;
  readonly auth: RouteAuth;
  readonly params: z.ZodType<Record<string, string>>;
  readonly query: z.ZodType<Record<string, string | undefined>>;
  /** absent: the route takes no body (a GET) */
  readonly body?: z.ZodType;
  readonly output: z.ZodType;
}

/** Checks a route's shape and keeps its exact type (for inferred params, body and output). */
export const defineRoute = <const R extends RouteSpec>(r: R): R => r;

export const NoParams = z.strictObject({});
export const NoQuery = z.object({});

/** The path of a call: each `:name` replaced by its parameter, URI-encoded. */
export function pathFor(spec: Pick<RouteSpec, 'path'>, params: Record<string, string>): string {
  return spec.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`${spec.path}: no value for :${name}`);
    return encodeURIComponent(v);
  });
}

/** "where.field.path: what is wrong" for the first problems zod found (the field first: it is
 *  what a person fixes); `where` ("body", "params", or '') prefixes each path. */
export function describeIssues(error: z.ZodError, where = '', max = 3): string {
  return error.issues
    .slice(0, max)
    .map((i) => `${[where, ...i.path.map(String)].filter(Boolean).join('.') || 'the value'}: ${i.message}`)
    .join('; ');
}
