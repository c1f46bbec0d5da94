// Every PIM_* environment setting, said once: its name, what it tunes, its default and the range it
// must be in. An unset, non-numeric or out-of-range value means the default (these tune timings for
// tests and slow links; none of them can widen access). Pure: callers pass the environment, so tests
// give their own and the agent and the control plane read the same table.

interface NumberSetting {
  /** what it tunes, for the reader of this table (docs/architecture.md points here) */
  about: string;
  /** null: the caller's own default applies when it is not set */
  default: number | null;
  min: number;
  /** absent: no upper bound */
  max?: number;
  /** above max: true cuts the value to max, false means the default */
  cut?: boolean;
  /** whole numbers only */
  integer?: boolean;
}

const NUMBERS = {
  PIM_HTTP_TIMEOUT_MS: {
    about: 'how long one ordinary control-plane call may take (a long poll adds the time it asks for)',
    default: 15_000,
    min: 1,
    integer: true,
  },
  PIM_LONG_POLL_S: {
    about: 'seconds each long poll asks the control plane to hold the call (it caps them at 30)',
    default: 25,
    min: 1,
    max: 30,
    cut: false,
    integer: true,
  },
  PIM_ACTIVATION_POLL_MS: {
    about: "how often the agent looks at its pending activations' state",
    default: 3000,
    min: 200,
  },
  PIM_REVOCATION_POLL_MS: {
    about: 'how often the agent asks whether its active roles were revoked (at most every 30 s)',
    default: 20_000,
    min: 200,
    max: 30_000,
    cut: true,
  },
  PIM_REFRESH_INTERVAL_MS: {
    about: 'how often the agent refreshes its signed policy (default: the agent loop’s 5 minutes)',
    default: null,
    min: 1000,
  },
  PIM_AUDIT_SYNC_MS: {
    about: 'how often the journal is synced to the central log when nothing new asks for it',
    default: 60_000,
    min: 100,
  },
  PIM_TOMBSTONE_SECONDS: {
    about: "how long an ended role's kube/AWS helper still answers with why it ended, before its entries go",
    default: 600,
    min: 0,
  },
  PIM_KUBE_TOKEN_TTL: {
    about: 'control plane: the kube token lifetime in seconds (never more than 15 minutes)',
    default: 900,
    min: 1,
    max: 900,
    cut: true,
    integer: true,
  },
} satisfies Record<string, NumberSetting>;

export type NumberSettingName = keyof typeof NUMBERS;

/** Settings that are words, not numbers (read where they are used, for the reasons given there). */
export const WORD_SETTINGS = {
  PIM_HOME: "the agent's state folder (agent/home.ts)",
  PIM_KEYSTORE: '`os` or `file`: where the device key lives (agent/keystore/index.ts)',
  PIM_NO_ELECTRON: '`1`: `npm start` runs the browser UI even where Electron could start (app/start.ts)',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The value of a numeric setting in `env`; its default when unset, not a number, not whole where it
 *  must be, below its minimum, or above its maximum unless that setting cuts to it. */
export function numberSetting<N extends NumberSettingName>(env: Env, name: N): number | (typeof NUMBERS)[N]['default'] {
  const s: NumberSetting = NUMBERS[name];
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return s.default;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < s.min || (s.integer && !Number.isInteger(v))) return s.default;
  if (s.max === undefined || v <= s.max) return v;
  return s.cut ? s.max : s.default;
}

/** Every setting with what it tunes, for `--help` texts and the docs. */
export function describeSettings(): { name: string; about: string; default: number | null }[] {
  return [
    ...Object.entries(NUMBERS).map(([name, s]) => ({ name, about: s.about, default: s.default })),
    ...Object.entries(WORD_SETTINGS).map(([name, about]) => ({ name, about, default: null })),
  ];
}
