// What a role name may look like wherever one crosses a boundary (API, signed request, pim-agent://
// link, the popover's URL fragment): one definition, so they cannot drift apart. Publishing is
// stricter still (shared/policy/schema.ts: no '--', no trailing '-'). No imports: the renderer uses it.
export const ROLE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
