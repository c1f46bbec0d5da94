// STS AssumeRoleWithWebIdentity against a small local stub: what is sent, how the answer is read,
// and that no secret ever ends up in an error message.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  MAX_ANSWER_BYTES,
  StsError,
  assumeRoleWithWebIdentity,
  credentialProcessJson,
  parseXml,
  sessionSeconds,
  stsEndpointFor,
  type StsCredentials,
} from '../../agent/credentials/sts';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZS1vZi10aGUtdG9rZW4';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY';
const SESSION_TOKEN = 'FQoGZXIvYXdzEBYaDFAKESESSIONTOKEN+/=';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/ml-admin';

const success = (o: { secret?: string; extra?: string } = {}) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>alice</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/ml-admin/alice-act1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:alice-act1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${SESSION_TOKEN}</SessionToken>
      <SecretAccessKey>${o.secret ?? SECRET_KEY}</SecretAccessKey>
      <Expiration>2030-01-01T01:00:00.123456Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>${o.extra ?? ''}
    <Provider>https://pim.acme.example</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;

const errorResponse = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
let handler: Handler = (_q, _b, res) => res.end();
let lastRequest: { method: string; headers: http.IncomingHttpHeaders; body: string } | null = null;
let url = '';
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    lastRequest = { method: req.method!, headers: req.headers, body };
    handler(req, body, res);
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const reply =
  (status: number, text: string, type = 'text/xml'): Handler =>
  (_q, _b, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(text);
  };

const call = (over: Partial<Parameters<typeof assumeRoleWithWebIdentity>[0]> = {}) =>
  assumeRoleWithWebIdentity({
    endpoint: url,
    roleArn: ROLE_ARN,
    sessionName: 'alice-act1',
    webIdentityToken: TOKEN,
    durationSeconds: 3600,
    ...over,
  });

/** Rejects with an StsError of `code` whose message contains none of our secrets. */
async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<StsError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected StsError ${code}`),
    (e: unknown) => {
      caught = e;
    },
  );
  assert.ok(caught instanceof StsError, `expected an StsError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  const shown = `${caught.message}\n${caught.stack ?? ''}\n${JSON.stringify(caught)}`;
  for (const secret of [TOKEN, ...TOKEN.split('.'), SECRET_KEY, SESSION_TOKEN])
    assert.equal(shown.includes(secret), false, `a secret leaked into: ${caught.message}`);
  return caught;
}

describe('the request', () => {
  test('is an unsigned, form-encoded POST with the role, session, token and duration', async () => {
    handler = reply(200, success());
    await call();
    assert.equal(lastRequest!.method, 'POST');
    assert.match(String(lastRequest!.headers['content-type']), /^application\/x-www-form-urlencoded/);
    assert.equal(lastRequest!.headers.authorization, undefined, 'AssumeRoleWithWebIdentity needs no signature');
    const form = new URLSearchParams(lastRequest!.body);
    assert.deepEqual(Object.fromEntries(form), {
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: ROLE_ARN,
      RoleSessionName: 'alice-act1',
      WebIdentityToken: TOKEN,
      DurationSeconds: '3600',
    });
  });

  for (const [asked, sent] of [
    [60, '900'],
    [900, '900'],
    [7200.7, '7200'],
    [43_200, '43200'],
    [86_400, '43200'],
  ] as const) {
    test(`a duration of ${asked} s is sent as ${sent} (STS allows 900..43200)`, async () => {
      handler = reply(200, success());
      await call({ durationSeconds: asked });
      assert.equal(new URLSearchParams(lastRequest!.body).get('DurationSeconds'), sent);
    });
  }

  test('plain http is refused except to this machine: the token is a bearer secret', async () => {
    await rejectsWith(call({ endpoint: 'http://sts.example.com/' }), 'bad-request', /use https/);
    await rejectsWith(call({ endpoint: 'https://user:pw@sts.example.com/' }), 'bad-request', /user name or password/);
  });

  test('an impossible session name or role ARN is refused before anything is sent', async () => {
    lastRequest = null;
    await rejectsWith(call({ sessionName: 'alice act1' }), 'bad-request', /session name/);
    await rejectsWith(call({ roleArn: 'arn:aws:iam::123:user/x' }), 'bad-request', /IAM role ARN/);
    assert.equal(lastRequest, null);
  });

  test('the STS endpoint for a region, the global one without', () => {
    assert.equal(stsEndpointFor('eu-west-1'), 'https://sts.eu-west-1.amazonaws.com');
    assert.equal(stsEndpointFor('cn-north-1'), 'https://sts.cn-north-1.amazonaws.com.cn');
    assert.equal(stsEndpointFor(null), 'https://sts.amazonaws.com');
    assert.throws(() => stsEndpointFor('eu-west-1.evil.example/'), /AWS region/);
  });
});

describe('the answer', () => {
  test('a success answer gives the credentials, the expiry and the assumed-role ARN', async () => {
    handler = reply(200, success());
    const c = await call();
    assert.deepEqual(c, {
      accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
      secretAccessKey: SECRET_KEY,
      sessionToken: SESSION_TOKEN,
      expiration: new Date('2030-01-01T01:00:00.123Z'),
      assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/ml-admin/alice-act1',
    });
  });

  test('entities in the text are decoded', async () => {
    handler = reply(200, success({ secret: 'abc&amp;def&#x2F;ghi&lt;' }));
    assert.equal((await call()).secretAccessKey, 'abc&def/ghi<');
  });

  for (const [code, message] of [
    ['AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity'],
    ['InvalidIdentityToken', 'Couldn&apos;t retrieve verification key from your identity provider'],
    [
      'ExpiredTokenException',
      'Token expired: current date/time 1700000000 must be before the expiration date/time 1699999000',
    ],
  ]) {
    test(`an ErrorResponse ${code} becomes StsError ${code} with AWS's message`, async () => {
      handler = reply(400, errorResponse(code!, message!));
      const e = await rejectsWith(call(), code!, new RegExp(code!));
      assert.equal(e.status, 400);
      assert.ok(e.message.includes(message!.replace('&apos;', "'")), e.message);
    });
  }

  test('an error message that echoes the token or a JWT shows neither', async () => {
    handler = reply(400, errorResponse('InvalidIdentityToken', `Token ${TOKEN} is invalid; also eyJabc.eyJdef.sig`));
    const e = await rejectsWith(call(), 'InvalidIdentityToken');
    assert.match(e.message, /\[redacted\]/);
  });

  for (const [what, status, body, type] of [
    ['an HTML error page', 500, '<!doctype html><html><title>500 Internal Server Error</title></html>', 'text/html'],
    ['JSON', 200, '{"AccessKeyId":"x"}', 'application/json'],
    ['an empty body', 200, '', 'text/xml'],
    ['truncated XML', 200, success().slice(0, 300), 'text/xml'],
    ['a DOCTYPE with entities', 200, `<!DOCTYPE x [<!ENTITY a "b">]>${success()}`, 'text/xml'],
    [
      'a repeated element',
      200,
      success({ extra: '<Credentials><AccessKeyId>ASIAOTHER0000000</AccessKeyId></Credentials>' }),
      'text/xml',
    ],
    [
      'a different response',
      200,
      '<GetCallerIdentityResponse><GetCallerIdentityResult/></GetCallerIdentityResponse>',
      'text/xml',
    ],
    ['an error without a code', 403, '<ErrorResponse><Error><Message>no</Message></Error></ErrorResponse>', 'text/xml'],
  ] as const) {
    test(`${what} is a bad-answer`, async () => {
      handler = reply(status, body, type);
      await rejectsWith(call(), 'bad-answer');
    });
  }

  test('a success answer with a missing field is a bad-answer that names the field, not a value', async () => {
    handler = reply(200, success().replace(/<SecretAccessKey>.*<\/SecretAccessKey>/, ''));
    await rejectsWith(call(), 'bad-answer', /SecretAccessKey/);
  });

  test('a malformed secret key is a bad-answer that does not repeat it', async () => {
    handler = reply(200, success({ secret: `${SECRET_KEY} with spaces` }));
    await rejectsWith(call(), 'bad-answer', /SecretAccessKey is not a secret key/);
  });

  test('an answer larger than the cap is refused, whether it says its length or not', async () => {
    const huge = `<x>${'a'.repeat(MAX_ANSWER_BYTES + 10)}</x>`;
    handler = reply(200, huge);
    await rejectsWith(call(), 'bad-answer', /larger than/);
    handler = (_q, _b, res) => {
      res.writeHead(200, { 'content-type': 'text/xml', 'transfer-encoding': 'chunked' });
      for (let i = 0; i < 10; i++) res.write('a'.repeat(MAX_ANSWER_BYTES / 4));
      res.end();
    };
    await rejectsWith(call(), 'bad-answer', /larger than/);
  });

  test('a redirect is not followed', async () => {
    let followed = false;
    handler = (req, _b, res) => {
      if (req.url === '/elsewhere') followed = true;
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    };
    await rejectsWith(call(), 'bad-answer', /redirect/);
    assert.equal(followed, false);
  });

  test('no answer within the time-out is a timeout', async () => {
    handler = () => undefined; // never answers
    await rejectsWith(call({ timeoutMs: 200 }), 'timeout', /did not answer within 200 ms/);
  });

  test('nothing listening is unreachable', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await rejectsWith(call({ endpoint: `http://127.0.0.1:${port}/` }), 'unreachable', /could not be reached/);
  });
});

describe('the credential_process answer', () => {
  const creds: StsCredentials = {
    accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
    secretAccessKey: SECRET_KEY,
    sessionToken: SESSION_TOKEN,
    expiration: new Date('2030-01-01T01:00:00.900Z'),
    assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/ml-admin/alice-act1',
  };

  test('is Version 1 JSON expiring with STS, in whole seconds (never later)', () => {
    assert.deepEqual(credentialProcessJson(creds), {
      Version: 1,
      AccessKeyId: 'ASIAIOSFODNN7EXAMPLE',
      SecretAccessKey: SECRET_KEY,
      SessionToken: SESSION_TOKEN,
      Expiration: '2030-01-01T01:00:00Z',
    });
  });

  test('expires with the activation when that ends first', () => {
    assert.equal(credentialProcessJson(creds, new Date('2030-01-01T00:30:00Z')).Expiration, '2030-01-01T00:30:00Z');
    assert.equal(credentialProcessJson(creds, new Date('2030-01-01T02:00:00Z')).Expiration, '2030-01-01T01:00:00Z');
  });
});

describe('the XML reader', () => {
  test('reads elements, attributes and text', () => {
    const root = parseXml('<?xml version="1.0"?><a x="1" y=\'&quot;\'><b>t&amp;u</b><c/></a>');
    assert.deepEqual(root, {
      name: 'a',
      attrs: { x: '1', y: '"' },
      text: '',
      children: [
        { name: 'b', attrs: {}, children: [], text: 't&u' },
        { name: 'c', attrs: {}, children: [], text: '' },
      ],
    });
  });

  for (const [what, xml] of [
    ['mismatched tags', '<a><b></a></b>'],
    ['two roots', '<a/><b/>'],
    ['mixed content', '<a>text<b/></a>'],
    ['a comment', '<a><!-- x --></a>'],
    ['CDATA', '<a><![CDATA[x]]></a>'],
    ['an unknown entity', '<a>&secret;</a>'],
    ['a bare ampersand', '<a>a & b</a>'],
    ['a repeated attribute', '<a x="1" x="2"/>'],
    ['deep nesting', `${'<a>'.repeat(40)}${'</a>'.repeat(40)}`],
  ]) {
    test(`refuses ${what}`, () => {
      assert.throws(() => parseXml(xml!));
    });
  }
});

test('an AWS session is asked for what the activation has left, within STS floor and ceiling', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  const at = (s: number) => new Date(now.getTime() + s * 1000);
  assert.equal(sessionSeconds(now, at(1800)), 1800, 'half an hour left: half an hour');
  assert.equal(sessionSeconds(now, at(1799.2)), 1800, 'rounded up to whole seconds');
  assert.equal(sessionSeconds(now, at(300)), 900, "STS's 900 s floor");
  assert.equal(sessionSeconds(now, at(-10)), 900);
  assert.equal(sessionSeconds(now, at(8 * 3600)), 3600, 'the default role maximum');
  assert.equal(sessionSeconds(now, at(8 * 3600), 7200), 7200, "a role's raised maximum");
  assert.equal(sessionSeconds(now, at(8 * 3600), 60), 900, 'a ceiling below the floor is the floor');
});
