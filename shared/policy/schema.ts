// The policy YAML as the admin writes it (the "source form"), validated with zod. Parsing also
// normalises: durations become seconds, dates become ISO instants, e-mails are lower-cased, zones
// take Intl's spelling, and defaults are filled in — so compile.ts only reshapes.
//
// Dates: `until: 2027-06-30` means eligibility lasts THROUGH that day in UTC; it is stored as
// 2027-06-30T23:59:59.999Z (expired from that instant on). A full ISO instant must carry a zone
// (Z or ±hh:mm), because an instant without one means different things on different machines.

import { z } from 'zod';
import { errorMessage } from '../errors';
import { parseDuration } from './duration';
import { AzureGrantSchema, GcpGrantSchema } from './cloud-grants';
import { kubeContextName, NAME_RE } from './names';
import { canonicalTimeZone, parseTimeOfDay } from './windows';

/** Role and cluster names end up in kubeconfig contexts, INI sections and ssh key comments. No "--"
 *  inside and no "-" at the end: "--" separates them in the injected names (names.ts), which makes
 *  those names unique by construction. */
export { NAME_RE };
const CONTROL_RE = /\p{Cc}/u;

const text = (what: string, max = 200) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .refine((s) => !CONTROL_RE.test(s), `${what} must not contain control characters`)
    .refine((s) => s.trim() === s, `${what} must not start or end with spaces`);

const name = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(
      NAME_RE,
      `${what} must be 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit, without '--' (PIM Agent uses '--' to join cluster, role and grant in kube context and AWS profile names)`,
    );

const email = z
  .string({ error: 'an e-mail address must be a string' })
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: (iss) => `${JSON.stringify(iss.input)} is not an e-mail address` }));

const group = text('a group name');
const groups = z.array(group);

const duration = z.unknown().transform((v, ctx) => {
  if (v === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a duration is required (use 30m, 2h, 1d)' });
    return z.NEVER;
  }
  if (typeof v !== 'string') {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration (use 30m, 2h, 1d)` });
    return z.NEVER;
  }
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: errorMessage(e) });
    return z.NEVER;
  }
});

const DATE_ONLY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** "2027-06-30" -> end of that UTC day; full ISO instants with a zone -> normalised ISO. */
export function parseUntil(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const d = DATE_ONLY_RE.exec(v);
  if (d !== null) {
    const [y, m, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
    const t = Date.UTC(y, m - 1, day, 23, 59, 59, 999);
    const back = new Date(t);
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== day) return null;
    return back.toISOString();
  }
  if (!INSTANT_RE.test(v)) return null;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return null;
  // Date.parse rolls 2027-02-30 over to March: reject by re-checking the calendar date.
  const monthDay = v.slice(5, 10);
  const local = new Date(t + offsetOf(v));
  const check = `${String(local.getUTCMonth() + 1).padStart(2, '0')}-${String(local.getUTCDate()).padStart(2, '0')}`;
  return check === monthDay ? new Date(t).toISOString() : null;
}

function offsetOf(iso: string): number {
  const m = /([+-])(\d{2}):(\d{2})$/.exec(iso);
  if (m === null) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

const until = z.unknown().transform((v, ctx) => {
  const iso = parseUntil(v);
  if (iso === null) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(v)} is not a date (use 2027-06-30, or an instant like 2027-06-30T18:00:00Z)`,
    });
    return z.NEVER;
  }
  return iso;
});

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], {
  error: (iss) => `${JSON.stringify(iss.input)} is not a day (use mon, tue, wed, thu, fri, sat, sun)`,
});

const timeOfDay = z
  .string({ error: 'a time must be a quoted string like "08:00"' })
  .refine((s) => !Number.isNaN(parseTimeOfDay(s)), {
    error: (iss) => `${JSON.stringify(iss.input)} is not a time of day (use HH:MM, 00:00-23:59)`,
  });

const timeZone = z.string({ error: 'tz must be a string like Europe/Berlin' }).transform((s, ctx) => {
  const tz = canonicalTimeZone(s);
  if (tz === null) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(s)} is not an IANA time zone (e.g. Europe/Berlin, UTC)`,
    });
    return z.NEVER;
  }
  return tz;
});

const window = z.strictObject({
  days: z
    .array(weekday)
    .min(1, 'a window needs at least one day')
    .refine((d) => new Set(d).size === d.length, 'a day is listed twice'),
  from: timeOfDay,
  to: timeOfDay,
  tz: timeZone,
});

const ticketPattern = z.string({ error: 'pattern must be a string' }).superRefine((s, ctx) => {
  if (s.length > 500) ctx.addIssue({ code: 'custom', message: 'pattern must be at most 500 characters' });
  try {
    new RegExp(s, 'u');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${errorMessage(e)}` });
  }
});

const approval = z
  .strictObject({
    approvers: z
      .strictObject({ groups: groups.default([]), users: z.array(email).default([]) })
      .refine((a) => a.groups.length + a.users.length > 0, 'name at least one approver group or user'),
    count: z
      .number({ error: 'count must be a whole number >= 1' })
      .int('count must be a whole number')
      .min(1)
      .default(1),
    selfApproval: z.boolean({ error: 'selfApproval must be true or false' }).default(false),
  })
  .superRefine((a, ctx) => {
    // With only named users, a count above their number can never be met.
    if (a.approvers.groups.length === 0 && a.count > new Set(a.approvers.users).size) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `needs ${a.count} approvals but only ${new Set(a.approvers.users).size} approver(s) are listed`,
      });
    }
  });

const activation = z
  .strictObject({
    maxDuration: duration,
    defaultDuration: duration.optional(),
    mfa: z
      .strictObject({
        userVerification: z
          .enum(['required', 'preferred', 'discouraged'], {
            error: (iss) => `${JSON.stringify(iss.input)} is not one of required, preferred, discouraged`,
          })
          .default('required'),
      })
      .default({ userVerification: 'required' }),
    justification: z
      .enum(['required', 'optional'], {
        error: (iss) => `${JSON.stringify(iss.input)} is not one of required, optional`,
      })
      .default('required'),
    ticket: z
      .strictObject({
        required: z.boolean({ error: 'required must be true or false' }),
        pattern: ticketPattern.optional(),
        /** what a person should type, in words ("an incident ID like INC-1234"): shown instead of the pattern */
        hint: z
          .string()
          .min(1)
          .max(200)
          .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed')
          .optional(),
      })
      .optional(),
    approval: approval.optional(),
    windows: z.array(window).default([]),
    maxActive: z
      .number({ error: 'maxActive must be a whole number >= 1' })
      .int('maxActive must be a whole number')
      .min(1)
      .optional(),
    /** journal every command typed in a shell (with `pim shell-init`) while the role is active */
    sessionTrail: z.boolean({ error: 'sessionTrail must be true or false' }).optional(),
    /** `deactivate`: the role ends when the desktop session locks or the machine suspends (the
     *  tray app's powerMonitor; headless `pim agent` has no such signal) */
    onLock: z
      .enum(['deactivate'], {
        error: (iss) => `${JSON.stringify(iss.input)} is not deactivate (the only onLock action)`,
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    if (a.defaultDuration !== undefined && a.defaultDuration > a.maxDuration) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultDuration'],
        message: 'defaultDuration is longer than maxDuration',
      });
    }
  })
  .transform((a) => ({ ...a, defaultDuration: a.defaultDuration ?? Math.min(3600, a.maxDuration) }));

// A bare e-mail is shorthand for { email }; normalising here gives compile.ts one shape.
const eligibleUser = z.preprocess(
  (v) => (typeof v === 'string' ? { email: v } : v),
  z.strictObject({ email, until: until.optional() }, { error: 'a user is an e-mail address or { email, until }' }),
);

const eligible = z
  .strictObject({
    groups: groups.default([]),
    users: z.array(eligibleUser).default([]),
    until: until.optional(),
  })
  .superRefine((e, ctx) => {
    if (e.groups.length + e.users.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'name at least one group or user who may activate this role' });
    }
    const seen = new Set<string>();
    e.users.forEach((u, i) => {
      const addr = u.email;
      if (seen.has(addr)) ctx.addIssue({ code: 'custom', path: ['users', i], message: `${addr} is listed twice` });
      seen.add(addr);
    });
  });

const awsArn = z
  .string({ error: 'roleArn must be a string' })
  .regex(
    /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/,
    'roleArn must look like arn:aws:iam::123456789012:role/name',
  );

// URL fields end up in the agent's kubeconfig and AWS config, one line each. The URL parser quietly
// drops tabs and newlines, so they are refused on the raw text first (as the agent does at injection).
const LINE_BREAKING = /[\s\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const oneLine = (field: string) => (s: string, ctx: z.RefinementCtx) => {
  if (LINE_BREAKING.test(s))
    ctx.addIssue({
      code: 'custom',
      message: `${field} must not contain spaces, newlines or control characters`,
      continue: false,
    });
};

const stsEndpoint = z
  .string({ error: 'stsEndpoint must be a URL' })
  .superRefine(oneLine('stsEndpoint'))
  .refine((s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return false;
    }
    // Plain http only to the local machine (tests, a local STS stand-in).
    return u.protocol === 'https:' || (u.protocol === 'http:' && /^(localhost|127\.0\.0\.1|\[::1\])$/.test(u.hostname));
  }, 'stsEndpoint must be an https:// URL');

const grants = z.strictObject({
  kubernetes: z
    .array(z.strictObject({ cluster: name('cluster'), groups: z.array(group).min(1, 'list at least one group') }))
    .default([]),
  aws: z
    .array(
      z.strictObject({
        roleArn: awsArn,
        audience: text('audience').optional(),
        stsEndpoint: stsEndpoint.optional(),
        region: z
          .string({ error: 'region must be a string' })
          .regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'region must look like eu-central-1')
          .optional(),
      }),
    )
    .default([]),
  ssh: z
    .array(
      z.strictObject({
        principals: z
          .array(text('a principal').regex(/^[^\s,]+$/, 'a principal must not contain spaces or commas'))
          .min(1, 'list at least one principal'),
        hosts: z.array(text('a host pattern')).min(1, 'list at least one host pattern'),
        extensions: z
          .array(
            z
              .string({ error: 'an extension must be a string' })
              .regex(/^[A-Za-z0-9@._-]{1,64}$/, 'not an SSH certificate extension name'),
          )
          .optional(),
      }),
    )
    .default([]),
  gcp: z.array(GcpGrantSchema).default([]),
  azure: z.array(AzureGrantSchema).default([]),
});

const role = z.strictObject({
  name: name('name'),
  description: z.string({ error: 'description must be a string' }).max(2000).default(''),
  eligible,
  activation,
  grants: grants.default({ kubernetes: [], aws: [], ssh: [], gcp: [], azure: [] }),
});

const cluster = z.strictObject({
  name: name('name'),
  server: z
    .string({ error: 'server must be a URL' })
    .superRefine(oneLine('server'))
    .refine((s) => {
      try {
        return new URL(s).protocol === 'https:';
      } catch {
        return false;
      }
    }, 'server must be an https:// URL'),
  certificateAuthorityData: z
    .string({ error: 'certificateAuthorityData must be a base64 string' })
    .superRefine(oneLine('certificateAuthorityData'))
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'certificateAuthorityData must be base64 on one line')
    .optional(),
});

const user = z.strictObject({ email, groups: groups.default([]) });

export const PolicySchema = z
  .strictObject({
    roles: z.array(role, { error: 'roles must be a list' }),
    clusters: z.array(cluster).default([]),
    users: z.array(user).default([]),
  })
  .superRefine((p, ctx) => {
    // Cross-field checks, each pointing at the offending entry.
    const firstIndex = <T>(
      items: T[],
      key: (x: T) => string,
      path: (i: number) => (string | number)[],
      what: string,
    ) => {
      const seen = new Map<string, number>();
      items.forEach((x, i) => {
        const k = key(x);
        const prev = seen.get(k);
        if (prev !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: path(i),
            message: `duplicate ${what} "${k}" (first defined at ${path(prev).slice(0, 2).join('[')}])`,
          });
        } else seen.set(k, i);
      });
    };
    firstIndex(
      p.roles,
      (r) => r.name,
      (i) => ['roles', i, 'name'],
      'role name',
    );
    firstIndex(
      p.clusters,
      (c) => c.name,
      (i) => ['clusters', i, 'name'],
      'cluster name',
    );
    firstIndex(
      p.users,
      (u) => u.email,
      (i) => ['users', i, 'email'],
      'user',
    );
    const clusters = new Set(p.clusters.map((c) => c.name));
    p.roles.forEach((r, i) => {
      // one kube context per (cluster, role): a second grant for the same cluster would take the
      // same name (shared/policy/names.ts), so ending one would break the other
      const grantedAt = new Map<string, number>();
      r.grants.kubernetes.forEach((k, j) => {
        const prev = grantedAt.get(k.cluster);
        if (prev !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['roles', i, 'grants', 'kubernetes', j, 'cluster'],
            message: `cluster "${k.cluster}" is already granted to this role (kubernetes[${prev}]); both would be the kube context ${contextNameOrNote(k.cluster, r.name)}: merge their groups into one grant`,
          });
        } else grantedAt.set(k.cluster, j);
      });
      r.grants.kubernetes.forEach((k, j) => {
        if (!clusters.has(k.cluster)) {
          ctx.addIssue({
            code: 'custom',
            path: ['roles', i, 'grants', 'kubernetes', j, 'cluster'],
            message: `unknown cluster "${k.cluster}" (define it under clusters)`,
          });
        }
      });
    });
  });

/** The context name for a message (names that are themselves invalid have their own issue). */
function contextNameOrNote(cluster: string, role: string): string {
  try {
    return kubeContextName(cluster, role);
  } catch {
    return `of cluster "${cluster}" and role "${role}"`;
  }
}

/** The validated, normalised source policy (what parsePolicyYaml returns, what compilePolicy takes). */
export type PolicySource = z.output<typeof PolicySchema>;
/** What the admin may write (before defaults and normalisation). */
export type PolicyInput = z.input<typeof PolicySchema>;
