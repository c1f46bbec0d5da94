// The one contract between the agent and the control plane: every /api/v1 route (but /info, a
// plain status page), keyed by a name. server/api/routes.ts serves exactly these routes and checks
// what arrives against them; agent/activation/cp-client.ts `request` builds calls from them and
// parses every reply with the route's output schema. A route added or changed here is a compile
// error on both sides until both agree.
import type { z } from 'zod';
import { activationRoutes } from './activations';
import { approvalRoutes } from './approvals';
import { auditRoutes } from './audit';
import { ceremonyRoutes } from './ceremony';
import { enrolmentRoutes } from './enrolment';
import type { RouteSpec } from './route';

export const controlPlaneRoutes = {
  ...enrolmentRoutes,
  ...activationRoutes,
  ...approvalRoutes,
  ...auditRoutes,
  ...ceremonyRoutes,
} as const satisfies Record<string, RouteSpec>;

export type ControlPlaneRoutes = typeof controlPlaneRoutes;
export type RouteName = keyof ControlPlaneRoutes;

export function isRouteName(name: string): name is RouteName {
  return Object.prototype.hasOwnProperty.call(controlPlaneRoutes, name);
}
export const routeNames: readonly RouteName[] = Object.keys(controlPlaneRoutes).filter(isRouteName);

type Spec<N extends RouteName> = ControlPlaneRoutes[N];
export type RouteParams<N extends RouteName> = z.infer<Spec<N>['params']>;
export type RouteQuery<N extends RouteName> = z.infer<Spec<N>['query']>;
/** the body as sent (input) and as the server has it once checked (infer); undefined for a route with none */
export type RouteBody<N extends RouteName> = Spec<N> extends { body: z.ZodType } ? z.input<Spec<N>['body']> : undefined;
export type RouteBodyChecked<N extends RouteName> =
  Spec<N> extends { body: z.ZodType } ? z.infer<Spec<N>['body']> : undefined;
/** the reply value as the server produces it (input) and as the agent has it once parsed (infer) */
export type RouteReply<N extends RouteName> = z.input<Spec<N>['output']>;
export type RouteOutput<N extends RouteName> = z.infer<Spec<N>['output']>;

/** "GET /api/v1/activations/:id": how messages name a route */
export function routeLabel(name: RouteName): string {
  const r = controlPlaneRoutes[name];
  return `${r.method} ${r.path}`;
}

export { describeIssues, pathFor, type RouteAuth, type RouteSpec } from './route';
export { ActivationEvidenceSchema, type ActivationEvidence } from './activations';
