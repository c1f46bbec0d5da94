// STS AssumeRoleWithWebIdentity: the control plane's web-identity JWT in, short-lived AWS
// credentials out. That call needs no SigV4 signature (the token is the proof), so plain fetch does:
// a form-encoded POST and a strict reading of the XML answer. Secrets (the token we send, the
// secret key and session token we get) never appear in an error message.
import { errorCause, errorCode, errorMessage, errorName, PimError } from '../../shared/errors';
import { checkRegion } from './aws-config';

export interface StsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  /** arn:aws:sts::<account>:assumed-role/<role>/<session> */
  assumedRoleArn: string;
}

/**
 * `code` is AWS's error code when STS answered with one (AccessDenied, InvalidIdentityToken,
 * ExpiredTokenException, …), else one of ours: `unreachable` (no answer), `timeout`,
 * `bad-answer` (not a well-formed STS answer, too large, a redirect), `bad-request` (refused here
 * before sending).
 */
export type StsErrorCode = 'bad-request' | 'bad-answer' | 'timeout' | 'unreachable' | StsRefusalCode;
/** STS's own error code when it refused (AccessDenied, ExpiredToken, …), as it sent it. */
export type StsRefusalCode = string & Record<never, never>;

export class StsError extends PimError<StsErrorCode> {
  constructor(
    code: StsErrorCode,
    message: string,
    readonly status: number | null = null,
  ) {
    super(code, message);
  }
}

const MIN_DURATION = 900;
const MAX_DURATION = 43_200;
/** An IAM role's default MaxSessionDuration: asking STS for more fails unless the role was raised. */
export const STS_SESSION_CEILING = 3600;

/** How long an AWS session to ask for: what the activation has left, so the session ends with it —
 *  but never less than STS's 900 s floor (a session then outlives its activation by up to 15 min)
 *  nor more than the ceiling (the agent renews before the session ends while the activation lives). */
export function sessionSeconds(now: Date, activationEnd: Date, ceiling = STS_SESSION_CEILING): number {
  const left = Math.ceil((activationEnd.getTime() - now.getTime()) / 1000);
  return Math.max(MIN_DURATION, Math.min(Math.max(MIN_DURATION, Math.floor(ceiling)), left));
}

/** A real answer is about 1.5 KiB (the session token is the bulk); anything past this is not STS. */
export const MAX_ANSWER_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

/** The regional STS endpoint (AWS's advice), or the global one without a region. */
export function stsEndpointFor(region: string | null): string {
  if (region === null) return 'https://sts.amazonaws.com';
  checkRegion(region);
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** https anywhere; plain http only to this machine (moto_server, a local stub): the token is a bearer secret. */
function checkEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StsError('bad-request', `STS endpoint ${JSON.stringify(endpoint).slice(0, 200)} is not a URL`);
  }
  if (url.username || url.password)
    throw new StsError('bad-request', 'STS endpoint must not contain a user name or password');
  const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new StsError(
      'bad-request',
      `STS endpoint ${url.origin} is not allowed: use https (plain http only to 127.0.0.1/localhost)`,
    );
  }
  return url;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

export async function assumeRoleWithWebIdentity(o: {
  endpoint: string;
  roleArn: string;
  sessionName: string;
  webIdentityToken: string;
  durationSeconds: number;
  timeoutMs?: number;
}): Promise<StsCredentials> {
  const url = checkEndpoint(o.endpoint);
  if (!ROLE_ARN.test(o.roleArn))
    throw new StsError('bad-request', `role ARN ${JSON.stringify(o.roleArn).slice(0, 200)} is not an IAM role ARN`);
  if (!SESSION_NAME.test(o.sessionName))
    throw new StsError(
      'bad-request',
      `role session name ${JSON.stringify(o.sessionName).slice(0, 80)} is not allowed by STS (2-64 of letters, digits and +=,.@_-)`,
    );
  if (typeof o.webIdentityToken !== 'string' || o.webIdentityToken.length < 4 || o.webIdentityToken.length > 20_000) {
    throw new StsError('bad-request', 'the web identity token is missing or of an impossible length');
  }
  if (!Number.isFinite(o.durationSeconds)) throw new StsError('bad-request', 'durationSeconds must be a number');
  const duration = Math.min(MAX_DURATION, Math.max(MIN_DURATION, Math.floor(o.durationSeconds)));

  const body = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: o.roleArn,
    RoleSessionName: o.sessionName,
    WebIdentityToken: o.webIdentityToken,
    DurationSeconds: String(duration),
  });
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `STS at ${url.origin}`;
  const redact = (s: string) => scrub(s, [o.webIdentityToken]);

  let res: Response;
  let text: string;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        accept: 'text/xml, application/xml',
      },
      body: body.toString(),
      redirect: 'error',
      signal,
    });
    text = await readCapped(res, MAX_ANSWER_BYTES);
  } catch (e) {
    if (e instanceof StsError) throw new StsError(e.code, `${where}: ${e.message}`);
    if (errorName(e) === 'TimeoutError' || signal.aborted)
      throw new StsError('timeout', `${where} did not answer within ${timeoutMs} ms`);
    const inner = errorCause(e);
    const cause = errorCode(inner) ?? (inner instanceof Error ? inner.message : errorMessage(e));
    if (/redirect/i.test(cause))
      throw new StsError('bad-answer', `${where} answered with a redirect, which is refused`);
    throw new StsError('unreachable', `${where} could not be reached (${redact(cause).slice(0, 200)})`);
  }

  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (e) {
    throw new StsError(
      'bad-answer',
      `${where} answered HTTP ${res.status} with something that is not an STS answer (${errorMessage(e)})`,
      res.status,
    );
  }
  if (local(root.name) === 'ErrorResponse') {
    const error = one(root, 'Error');
    const code = error ? textOf(one(error, 'Code')) : null;
    const message = error ? textOf(one(error, 'Message')) : null;
    if (!code || !/^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code)) {
      throw new StsError(
        'bad-answer',
        `${where} answered HTTP ${res.status} with an error without a readable code`,
        res.status,
      );
    }
    const said = message
      ? `: ${redact(message)
          .replace(/[\u0000-\u001f\u007f]/g, ' ')
          .slice(0, 300)}`
      : '';
    throw new StsError(
      code,
      `${where} refused AssumeRoleWithWebIdentity for ${o.roleArn} (${code})${said}`,
      res.status,
    );
  }
  if (!res.ok)
    throw new StsError('bad-answer', `${where} answered HTTP ${res.status} without an STS error`, res.status);
  try {
    return readCredentials(root);
  } catch (e) {
    throw new StsError(
      'bad-answer',
      `${where} answered with an incomplete or malformed AssumeRoleWithWebIdentity result (${errorMessage(e)})`,
      res.status,
    );
  }
}

/** The credential_process answer (Version 1). It expires at the earlier of STS's expiry and `notAfter`. */
export function credentialProcessJson(
  c: StsCredentials,
  notAfter?: Date,
): { Version: 1; AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string } {
  const end = notAfter && notAfter.getTime() < c.expiration.getTime() ? notAfter : c.expiration;
  if (!Number.isFinite(end.getTime())) throw new Error('credentialProcessJson: the expiry is not a valid date');
  return {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    // whole seconds, rounded down: never later than the real end
    Expiration: new Date(Math.floor(end.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z'),
  };
}

// ---------------------------------------------------------------------------------------------

function scrub(s: string, secrets: string[]): string {
  let out = s;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  // anything that looks like a JWT (a token echoed back in some other form)
  return out.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '[redacted]');
}

async function readCapped(res: Response, cap: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => undefined);
    throw new StsError('bad-answer', `answer of ${declared} bytes is larger than the ${cap} an STS answer can be`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => undefined);
      throw new StsError('bad-answer', `answer is larger than the ${cap} bytes an STS answer can be`);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new StsError('bad-answer', 'answer is not UTF-8 text');
  }
}

const ACCESS_KEY = /^[A-Z0-9]{16,128}$/;
const PRINTABLE = /^[\x21-\x7e]+$/;
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const ASSUMED_ARN = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+$/;

function readCredentials(root: XmlElement): StsCredentials {
  if (local(root.name) !== 'AssumeRoleWithWebIdentityResponse') throw new Error(`unexpected <${root.name}>`);
  const result = must(root, 'AssumeRoleWithWebIdentityResult');
  const creds = must(result, 'Credentials');
  const accessKeyId = mustText(creds, 'AccessKeyId');
  const secretAccessKey = mustText(creds, 'SecretAccessKey');
  const sessionToken = mustText(creds, 'SessionToken');
  const expirationText = mustText(creds, 'Expiration');
  const assumedRoleArn = mustText(must(result, 'AssumedRoleUser'), 'Arn');
  // messages below name the field, never its value (except the ARN and the date, which are not secret)
  if (!ACCESS_KEY.test(accessKeyId)) throw new Error('AccessKeyId is not an access key id');
  if (!PRINTABLE.test(secretAccessKey) || secretAccessKey.length > 256)
    throw new Error('SecretAccessKey is not a secret key');
  if (!PRINTABLE.test(sessionToken) || sessionToken.length > 16_384)
    throw new Error('SessionToken is not a session token');
  const t = ISO_TIME.exec(expirationText);
  const expiration = t ? new Date(`${t[1]}${(t[2] ?? '').slice(0, 4)}${t[3]}`) : null;
  if (!expiration || !Number.isFinite(expiration.getTime()))
    throw new Error(`Expiration ${JSON.stringify(expirationText.slice(0, 40))} is not a date`);
  if (!ASSUMED_ARN.test(assumedRoleArn))
    throw new Error(`AssumedRoleUser/Arn ${JSON.stringify(assumedRoleArn.slice(0, 200))} is not an assumed-role ARN`);
  return { accessKeyId, secretAccessKey, sessionToken, expiration, assumedRoleArn };
}

function must(parent: XmlElement, name: string): XmlElement {
  const e = one(parent, name);
  if (!e) throw new Error(`<${name}> missing in <${local(parent.name)}>`);
  return e;
}

function mustText(parent: XmlElement, name: string): string {
  const v = textOf(must(parent, name));
  if (!v) throw new Error(`<${name}> is empty`);
  return v;
}

/** The only child called `name`; a repeated element is an error, not a choice. */
function one(parent: XmlElement, name: string): XmlElement | null {
  const found = parent.children.filter((c) => local(c.name) === name);
  if (found.length > 1) throw new Error(`<${name}> appears ${found.length} times in <${local(parent.name)}>`);
  return found[0] ?? null;
}

function textOf(e: XmlElement | null): string | null {
  if (!e) return null;
  if (e.children.length > 0) throw new Error(`<${local(e.name)}> has elements where text was expected`);
  return e.text.trim();
}

function local(name: string): string {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
}

// ---------------------------------------------------------------------------------------------
// A small, strict XML reader for STS's answers: one root element, elements with attributes, text
// with the five predefined entities and character references. No DOCTYPE, no entities of its own,
// no CDATA, no processing instructions besides the XML declaration, no mixed content: anything
// else is "not an STS answer".

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME_RE = /[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?/y;
const MAX_DEPTH = 16;

export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${i}`);
  };
  const skipSpace = () => {
    while (i < src.length && ' \t\r\n'.includes(src[i]!)) i++;
  };
  const name = (): string => {
    NAME_RE.lastIndex = i;
    const m = NAME_RE.exec(src);
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const unescape = (s: string): string =>
    s.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos);|&/g, (whole, ent: string | undefined) => {
      if (ent === undefined) fail('bare "&"');
      if (ent === 'amp') return '&';
      if (ent === 'lt') return '<';
      if (ent === 'gt') return '>';
      if (ent === 'quot') return '"';
      if (ent === 'apos') return "'";
      const cp = ent!.startsWith('#x') ? parseInt(ent!.slice(2), 16) : parseInt(ent!.slice(1), 10);
      if (cp > 0x10ffff || cp === 0) fail(`bad character reference ${whole}`);
      return String.fromCodePoint(cp);
    });

  const element = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail('nested too deep');
    if (src[i] !== '<') fail('expected "<"');
    i++;
    const tag = name();
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = i;
      skipSpace();
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name: tag, attrs, children: [], text: '' };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('expected a space before an attribute');
      const an = name();
      skipSpace();
      if (src[i] !== '=') fail('expected "="');
      i++;
      skipSpace();
      const q = src[i];
      if (q !== '"' && q !== "'") fail('expected a quoted attribute value');
      const close = src.indexOf(q!, i + 1);
      if (close === -1) fail('unterminated attribute value');
      const raw = src.slice(i + 1, close);
      if (raw.includes('<')) fail('"<" in an attribute value');
      if (an in attrs) fail(`attribute ${an} repeated`);
      attrs[an] = unescape(raw);
      i = close + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt === -1) fail(`<${tag}> is not closed`);
      text += src.slice(i, lt);
      i = lt;
      if (src.startsWith('</', i)) {
        i += 2;
        const closing = name();
        if (closing !== tag) fail(`</${closing}> closes <${tag}>`);
        skipSpace();
        if (src[i] !== '>') fail('expected ">"');
        i++;
        break;
      }
      if (src.startsWith('<!', i) || src.startsWith('<?', i))
        fail('comments, CDATA, DOCTYPE and processing instructions are not expected');
      children.push(element(depth + 1));
    }
    if (children.length > 0 && text.trim() !== '') fail(`<${tag}> mixes text and elements`);
    return { name: tag, attrs, children, text: children.length > 0 ? '' : unescape(text) };
  };

  if (src.charCodeAt(0) === 0xfeff) i = 1;
  if (src.startsWith('<?xml', i)) {
    const end = src.indexOf('?>', i);
    if (end === -1) fail('unterminated XML declaration');
    i = end + 2;
  }
  skipSpace();
  const root = element(0);
  skipSpace();
  if (i !== src.length) fail('content after the root element');
  return root;
}
