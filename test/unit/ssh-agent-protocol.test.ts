// The ssh-agent protocol client (draft-miller-ssh-agent) against a fake agent socket run by the
// test: the exact bytes it sends, how it reads answers, and what it refuses before connecting.
// The same client against the real ssh-agent, ssh and sshd: test/integration/ssh-agent.test.ts.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'vitest';
import { after } from '../helpers/cleanup';
import sshpk from 'sshpk';
import {
  addCertificate,
  agentSocket,
  listIdentities,
  MAX_ANSWER_BYTES,
  removeIdentity,
  SshAgentError,
} from '../../agent/credentials/ssh-agent';
import {
  generateSshKey,
  parseCertificate,
  sshKeyFromSeed,
  type EphemeralSshKey,
} from '../../agent/credentials/ssh-key';
import { tmpDir } from '../helpers/repo';

// ---- wire helpers, written out independently of the code under test -------------------------

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (s: Buffer | string) => {
  const b = Buffer.from(s);
  return Buffer.concat([u32(b.length), b]);
};
const frame = (...parts: (Buffer | number[])[]) => {
  const payload = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  return Buffer.concat([u32(payload.length), payload]);
};
const SUCCESS = frame([6]);
const FAILURE = frame([5]);

// RFC 8032 §7.1, test 1: a seed and its public key
const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const PUB = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');

const NOW = new Date('2026-03-01T09:00:00.000Z');
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

const CA = sshpk.parsePrivateKey(
  crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
  'pem',
);

/** A user certificate for `key`, signed by a test CA with sshpk (as the control plane does). */
function certFor(
  key: EphemeralSshKey,
  o: { from?: Date; until?: Date; principals?: string[]; host?: boolean } = {},
): string {
  const subjects = (o.principals ?? ['ops']).map((p) => (o.host ? sshpk.identityForHost(p) : sshpk.identityForUser(p)));
  const cert = sshpk.createCertificate(
    subjects,
    sshpk.parseKey(key.publicKey, 'ssh'),
    sshpk.identityForHost('**'),
    CA,
    {
      validFrom: o.from ?? minutes(-1),
      validUntil: o.until ?? minutes(10),
    },
  );
  return cert.toString('openssh').trim();
}

const certBlobOf = (line: string) => Buffer.from(line.split(' ')[1]!, 'base64');

// ---- a fake agent --------------------------------------------------------------------------

interface FakeAgent {
  sock: string;
  /** every complete request received, with its length prefix */
  requests: Buffer[];
  connections(): number;
}

/** A unix socket server that reads one framed request per connection and lets `answer` reply. */
async function fakeAgent(answer: (request: Buffer, conn: net.Socket) => void): Promise<FakeAgent> {
  const sock = path.join(tmpDir('pim-fake-agent-'), 'agent.sock');
  const requests: Buffer[] = [];
  const open = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((conn) => {
    connections++;
    open.add(conn);
    conn.on('close', () => open.delete(conn));
    conn.on('error', () => {});
    let buf = Buffer.alloc(0);
    conn.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length === 4 + buf.readUInt32BE(0)) {
        requests.push(buf);
        answer(buf, conn);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  after(() => {
    for (const c of open) c.destroy();
    server.close();
  });
  return { sock, requests, connections: () => connections };
}

const answering = (bytes: Buffer) => fakeAgent((_req, conn) => conn.end(bytes));

const agentError = (code: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof SshAgentError, `expected an SshAgentError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

// ---- agentSocket ---------------------------------------------------------------------------

describe('agentSocket', () => {
  test('is SSH_AUTH_SOCK', () => {
    assert.equal(agentSocket({ SSH_AUTH_SOCK: '/tmp/ssh-XXXX/agent.123' }), '/tmp/ssh-XXXX/agent.123');
  });

  test('without SSH_AUTH_SOCK: no-agent, telling the user how to start one and that nothing was added', () => {
    for (const env of [{}, { SSH_AUTH_SOCK: '' }, { SSH_AUTH_SOCK: '  ' }]) {
      assert.throws(() => agentSocket(env, 'linux'), agentError('no-agent', /eval "\$\(ssh-agent\)"/));
      assert.throws(
        () => agentSocket(env, 'darwin'),
        agentError('no-agent', /SSH credentials of this activation were not added/),
      );
    }
  });

  test("on Windows without SSH_AUTH_SOCK it is the OpenSSH agent service's pipe, as for ssh.exe", () => {
    assert.equal(agentSocket({}, 'win32'), '\\\\.\\pipe\\openssh-ssh-agent');
    assert.equal(agentSocket({ SSH_AUTH_SOCK: '\\\\.\\pipe\\other' }, 'win32'), '\\\\.\\pipe\\other');
  });
});

// ---- adding a certificate ------------------------------------------------------------------

describe('addCertificate', () => {
  const key = sshKeyFromSeed(SEED);

  test('sends ADD_ID_CONSTRAINED in the layout OpenSSH 9.2 accepts, with the lifetime cut to what is left of the certificate', async () => {
    const agent = await answering(SUCCESS);
    const certificate = certFor(key, { until: minutes(10) });

    await addCertificate(agent.sock, {
      certificate,
      key,
      comment: 'pim:ops-admin:act-1',
      lifetimeSeconds: 3600,
      now: NOW,
    });

    assert.equal(agent.requests.length, 1);
    assert.deepEqual(
      agent.requests[0],
      frame(
        [25],
        str('ssh-ed25519-cert-v01@openssh.com'),
        str(certBlobOf(certificate)),
        str(PUB),
        str(Buffer.concat([SEED, PUB])),
        str('pim:ops-admin:act-1'),
        [1],
        u32(600), // asked 1 h, the certificate ends in 10 min
      ),
    );
  });

  test('the lifetime is the asked one when the certificate outlives it, rounded up, and at least 1 s', async () => {
    const lifetimeSent = async (lifetimeSeconds: number, until: Date) => {
      const agent = await answering(SUCCESS);
      await addCertificate(agent.sock, {
        certificate: certFor(key, { until }),
        key,
        comment: 'pim:r:a',
        lifetimeSeconds,
        now: NOW,
      });
      return agent.requests[0]!.readUInt32BE(agent.requests[0]!.length - 4);
    };
    assert.equal(await lifetimeSent(120, minutes(10)), 120);
    assert.equal(await lifetimeSent(120.2, minutes(10)), 121);
    assert.equal(await lifetimeSent(0.01, minutes(10)), 1);
    // certificates end on whole seconds: 9.5 s before the end leaves 10 s (rounded up)
    const agent = await answering(SUCCESS);
    await addCertificate(agent.sock, {
      certificate: certFor(key, { until: minutes(10) }),
      key,
      comment: 'pim:r:a',
      lifetimeSeconds: 3600,
      now: new Date(minutes(10).getTime() - 9_500),
    });
    assert.equal(agent.requests[0]!.readUInt32BE(agent.requests[0]!.length - 4), 10);
  });

  test('a FAILURE answer is agent-refused, and the message holds no key material', async () => {
    const agent = await answering(FAILURE);
    const err = await addCertificate(agent.sock, {
      certificate: certFor(key),
      key,
      comment: 'pim:ops-admin:act-1',
      lifetimeSeconds: 60,
      now: NOW,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof SshAgentError && err.code === 'agent-refused', String(err));
    assert.match(err.message, /refused/);
    for (const secret of [
      SEED.toString('hex'),
      SEED.toString('base64'),
      Buffer.concat([SEED, PUB]).toString('base64'),
    ]) {
      assert.ok(!err.message.includes(secret) && !(err.stack ?? '').includes(secret));
    }
  });

  test('an expired certificate is refused before the agent is contacted', async () => {
    const agent = await answering(SUCCESS);
    await assert.rejects(
      addCertificate(agent.sock, {
        certificate: certFor(key, { from: minutes(-20), until: minutes(-10) }),
        key,
        comment: 'pim:r:a',
        lifetimeSeconds: 60,
        now: NOW,
      }),
      agentError('expired-certificate', /expired at 2026-03-01T08:50:00\.000Z/),
    );
    // the very second it ends counts as expired
    await assert.rejects(
      addCertificate(agent.sock, {
        certificate: certFor(key, { until: NOW }),
        key,
        comment: 'pim:r:a',
        lifetimeSeconds: 60,
        now: NOW,
      }),
      agentError('expired-certificate'),
    );
    assert.equal(agent.connections(), 0);
  });

  test("a certificate for another key than the activation's is refused before the agent is contacted", async () => {
    const agent = await answering(SUCCESS);
    await assert.rejects(
      addCertificate(agent.sock, {
        certificate: certFor(generateSshKey()),
        key,
        comment: 'pim:r:a',
        lifetimeSeconds: 60,
        now: NOW,
      }),
      agentError('expired-certificate', /another key/),
    );
    assert.equal(agent.connections(), 0);
  });

  test('comments with control characters, empty or over-long ones, and garbage certificates are refused before connecting', async () => {
    const agent = await answering(SUCCESS);
    const certificate = certFor(key);
    for (const comment of ['pim:ops\n-admin', 'pim:ops\u001b[31m', 'pim:\u0000', '', 'x'.repeat(256)]) {
      await assert.rejects(
        addCertificate(agent.sock, { certificate, key, comment, lifetimeSeconds: 60, now: NOW }),
        /comment must be 1–255 printable ASCII/,
      );
    }
    await assert.rejects(
      addCertificate(agent.sock, {
        certificate: 'not a certificate',
        key,
        comment: 'pim:r:a',
        lifetimeSeconds: 60,
        now: NOW,
      }),
      /not an OpenSSH certificate line/,
    );
    await assert.rejects(
      addCertificate(agent.sock, { certificate, key, comment: 'pim:r:a', lifetimeSeconds: 0, now: NOW }),
      /lifetimeSeconds must be a positive number/,
    );
    await assert.rejects(
      addCertificate(agent.sock, {
        certificate,
        key: { ...key, seed: Buffer.alloc(32, 1) },
        comment: 'pim:r:a',
        lifetimeSeconds: 60,
        now: NOW,
      }),
      /seed does not give its public key/,
    );
    assert.equal(agent.connections(), 0);
  });
});

// ---- removing and listing -------------------------------------------------------------------

describe('removeIdentity', () => {
  const blob = certBlobOf(certFor(sshKeyFromSeed(SEED)));

  test('sends REMOVE_IDENTITY with the blob; SUCCESS is true', async () => {
    const agent = await answering(SUCCESS);
    assert.equal(await removeIdentity(agent.sock, blob), true);
    assert.deepEqual(agent.requests, [frame([18], str(blob))]);
  });

  test('FAILURE (the agent does not hold it) is false', async () => {
    const agent = await answering(FAILURE);
    assert.equal(await removeIdentity(agent.sock, blob), false);
  });

  test('any other answer is bad-answer', async () => {
    const agent = await answering(frame([12], u32(0)));
    await assert.rejects(
      removeIdentity(agent.sock, blob),
      agentError('bad-answer', /message type 12 instead of SUCCESS or FAILURE/),
    );
  });
});

describe('listIdentities', () => {
  test('sends REQUEST_IDENTITIES and reads every identity, certificates included', async () => {
    const key = sshKeyFromSeed(SEED);
    const certBlob = certBlobOf(certFor(key));
    const plainBlob = Buffer.concat([str('ssh-ed25519'), str(PUB)]);
    const agent = await answering(
      frame([12], u32(2), str(plainBlob), str('alice@laptop'), str(certBlob), str('pim:ops-admin:act-1')),
    );

    const ids = await listIdentities(agent.sock);

    assert.deepEqual(agent.requests, [frame([11])]);
    assert.deepEqual(ids, [
      { blob: plainBlob, type: 'ssh-ed25519', comment: 'alice@laptop' },
      { blob: certBlob, type: 'ssh-ed25519-cert-v01@openssh.com', comment: 'pim:ops-admin:act-1' },
    ]);
  });

  test('an empty agent is an empty list', async () => {
    const agent = await answering(frame([12], u32(0)));
    assert.deepEqual(await listIdentities(agent.sock), []);
  });

  test('an answer split over many writes is read whole', async () => {
    const answer = frame([12], u32(1), str(Buffer.concat([str('ssh-ed25519'), str(PUB)])), str('split'));
    const agent = await fakeAgent((_req, conn) => {
      let i = 0;
      const next = () =>
        i < answer.length ? conn.write(answer.subarray(i, (i += 7)), () => setTimeout(next, 1)) : conn.end();
      next();
    });
    assert.deepEqual(
      (await listIdentities(agent.sock)).map((x) => x.comment),
      ['split'],
    );
  });
});

// ---- broken agents --------------------------------------------------------------------------

describe('answers that make no sense are bad-answer', () => {
  const cases: [string, Buffer, RegExp][] = [
    [
      'a truncated answer (the length promises more than arrives)',
      Buffer.concat([u32(50), Buffer.from([12, 0, 0])]),
      /truncated/,
    ],
    [
      'a listing whose identity runs past the end',
      frame([12], u32(1), u32(40), Buffer.from('ssh-ed25519')),
      /truncated/,
    ],
    [
      'a listing that claims more identities than it can hold',
      frame([12], u32(1_000_000)),
      /claims 1000000 identities/,
    ],
    ['a listing with trailing bytes', frame([12], u32(0), [9, 9]), /trailing bytes/],
    ['an identity blob without a key type', frame([12], u32(1), str(Buffer.from([0, 0])), str('c')), /no key type/],
    ['a message of another type', frame([99, 1, 2, 3]), /message type 99 instead of 12/],
    ['an empty message', u32(0), /empty message/],
    ['a length over the cap', Buffer.concat([u32(MAX_ANSWER_BYTES + 1), Buffer.from([12])]), /too large/],
    ['garbage', Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), /too large/],
    ['nothing at all (the agent hangs up)', Buffer.alloc(0), /closed the connection without answering/],
  ];
  for (const [what, bytes, message] of cases) {
    test(what, async () => {
      const agent = await answering(bytes);
      await assert.rejects(listIdentities(agent.sock), agentError('bad-answer', message));
    });
  }

  test('a SUCCESS with a payload after it', async () => {
    const agent = await answering(frame([6, 0]));
    await assert.rejects(removeIdentity(agent.sock, Buffer.from('x')), agentError('bad-answer', /trailing bytes/));
  });
});

describe('an agent that cannot be reached', () => {
  test('one that never answers times out (agent-unreachable) after timeoutMs', async () => {
    const agent = await fakeAgent(() => {});
    const t0 = Date.now();
    await assert.rejects(
      listIdentities(agent.sock, { timeoutMs: 150 }),
      agentError('agent-unreachable', /did not answer within 150 ms/),
    );
    const took = Date.now() - t0;
    assert.ok(took >= 140 && took < 2_000, `took ${took} ms`);
  });

  test('a socket that does not exist is agent-unreachable, naming the socket', async () => {
    const sock = path.join(tmpDir(), 'gone.sock');
    await assert.rejects(
      listIdentities(sock),
      agentError(
        'agent-unreachable',
        new RegExp(`${sock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(it does not exist\\)`),
      ),
    );
  });

  test('every call uses its own connection', async () => {
    const agent = await answering(frame([12], u32(0)));
    await listIdentities(agent.sock);
    await listIdentities(agent.sock);
    await removeIdentity(agent.sock, Buffer.from('x')).catch(() => undefined);
    assert.equal(agent.connections(), 3);
  });
});

// ---- keys and certificates -------------------------------------------------------------------

describe('ephemeral keys and certificates', () => {
  test('sshKeyFromSeed gives the RFC 8032 public key and a comment-less OpenSSH public key line', () => {
    const key = sshKeyFromSeed(SEED);
    assert.ok(key.rawPublic.equals(PUB));
    assert.ok(key.seed.equals(SEED));
    assert.equal(key.publicKey, `ssh-ed25519 ${Buffer.concat([str('ssh-ed25519'), str(PUB)]).toString('base64')}`);
    assert.throws(() => sshKeyFromSeed(Buffer.alloc(31)), /exactly 32 bytes/);
  });

  test('generateSshKey makes a new key each time, reloadable from its seed', () => {
    const a = generateSshKey();
    const b = generateSshKey();
    assert.notEqual(a.publicKey, b.publicKey);
    assert.equal(a.seed.length, 32);
    assert.deepEqual(sshKeyFromSeed(a.seed), a);
    assert.match(a.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);
  });

  test('parseCertificate reads type, key id, principals, window and certified key', () => {
    const key = sshKeyFromSeed(SEED);
    const line = certFor(key, { principals: ['ops', 'web'], from: minutes(-1), until: minutes(10) });
    const info = parseCertificate(`${line} pim:alice:ops-admin`);
    assert.equal(info.type, 'ssh-ed25519-cert-v01@openssh.com');
    assert.deepEqual(info.principals, ['ops', 'web']);
    assert.deepEqual([info.validAfter, info.validBefore], [minutes(-1), minutes(10)]);
    assert.equal(info.publicKey, key.publicKey);
    assert.ok(info.blob.equals(certBlobOf(line)));
    assert.equal(typeof info.keyId, 'string');
  });

  test('parseCertificate refuses garbage, plain keys, truncated data and host certificates with a clear message', () => {
    const key = sshKeyFromSeed(SEED);
    const line = certFor(key);
    const [type, b64] = line.split(' ') as [string, string];
    const cases: [string, RegExp][] = [
      ['', /not an OpenSSH certificate line/],
      ['hello world', /not an OpenSSH certificate line/],
      [key.publicKey, /not an OpenSSH certificate line/],
      [`${type} ${b64.slice(0, 60)}`, /cannot be parsed/],
      [`${type} %%%%`, /not base64/],
      [`ssh-rsa-cert-v01@openssh.com ${b64}`, /cannot be parsed/],
      [certFor(key, { host: true, principals: ['db.acme.example'] }), /host certificate, not a user certificate/],
    ];
    for (const [input, message] of cases)
      assert.throws(() => parseCertificate(input), message, JSON.stringify(input.slice(0, 40)));
  });
});
