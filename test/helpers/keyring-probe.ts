// Run as a child process (node --import tsx test/helpers/keyring-probe.ts MODE HOME [OTHER_HOME]) inside
// whatever D-Bus session the test arranged; prints one JSON line with what happened. It never prints
// a secret: only lengths, booleans, thumbprints and error messages (which are checked for secrets).
//   roundtrip    — store / read back / delete a secret and create + load a device key in the OS keychain
//   unavailable  — try the same and report each error
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  OsKeychain,
  createDeviceKey,
  loadDeviceKey,
  openKeystore,
  signDeviceRequest,
  type Keystore,
} from '../../agent/keystore';
import { bodySha256, verifyDeviceRequest } from '../../shared/device-jws';

const [mode, home, otherHome] = process.argv.slice(2);

function leaks(message: string, secret: Buffer): boolean {
  return [secret.toString('base64'), secret.toString('base64url'), secret.toString('hex')].some((s) =>
    message.includes(s),
  );
}

async function attempt(label: string, f: () => Promise<unknown>, secret: Buffer) {
  try {
    const value = await f();
    return { label, ok: true as const, value: value === null ? null : typeof value };
  } catch (err) {
    const e = err as Error & { code?: string };
    const text = `${e.message}\n${e.stack ?? ''}`;
    return {
      label,
      ok: false as const,
      name: e.name,
      code: e.code ?? null,
      message: e.message,
      leaksSecret: leaks(text, secret),
    };
  }
}

async function roundtrip() {
  const ks = openKeystore(home!, { ...process.env, PIM_KEYSTORE: undefined });
  const secret = crypto.randomBytes(48);
  await ks.set('probe-secret', secret);
  const back = await ks.get('probe-secret');
  const otherHomeSees = await new OsKeychain(otherHome!).get('probe-secret');
  const deleted = await ks.delete('probe-secret');
  const afterDelete = await ks.get('probe-secret');
  const deletedAgain = await ks.delete('probe-secret');

  const created = await createDeviceKey(ks);
  const loaded = await loadDeviceKey(openKeystore(home!, {}));
  // the item is really in the Secret Service, under the account this home maps to
  const account = new OsKeychain(home!).account('device-key');
  const lookup = spawnSync('secret-tool', ['lookup', 'service', 'pim-agent', 'username', account], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const stored = await ks.get('device-key');
  const jws = await signDeviceRequest(loaded!, {
    htm: 'POST',
    htu: 'https://pim.example/api/v1/ping',
    bodySha256: bodySha256('{}'),
  });
  const verified = await verifyDeviceRequest(jws, created.publicJwk, {
    htm: 'POST',
    htu: 'https://pim.example/api/v1/ping',
    bodySha256: bodySha256('{}'),
  });
  const refused = await attempt('create-again', () => createDeviceKey(ks), stored!);
  const removed = await ks.delete('device-key');
  return {
    kind: ks.kind,
    description: ks.description,
    roundTripEqual: back !== null && back.equals(secret),
    otherHomeSees: otherHomeSees !== null,
    deleted,
    afterDelete,
    deletedAgain,
    createdThumbprint: created.thumbprint,
    loadedThumbprint: loaded?.thumbprint ?? null,
    secretToolStatus: lookup.status,
    secretToolMatches: stored !== null && lookup.stdout.trim() === stored.toString('base64'),
    verifiedJtiLength: verified.jti.length,
    refused,
    removed,
  };
}

async function unavailable() {
  const ks = openKeystore(home!, {});
  const secret = crypto.randomBytes(48);
  // sees the private key createDeviceKey hands to the keystore, to check no error repeats it
  const handedOver: Buffer[] = [];
  const spy: Keystore = {
    kind: ks.kind,
    description: ks.description,
    get: (n) => ks.get(n),
    set: (n, s) => {
      handedOver.push(Buffer.from(s));
      return ks.set(n, s);
    },
    delete: (n) => ks.delete(n),
  };
  const device = await attempt('createDeviceKey', () => createDeviceKey(spy), secret);
  const deviceKeyLeaks = device.ok === false && handedOver.some((k) => leaks(`${device.message}`, k));
  return {
    kind: ks.kind,
    set: await attempt('set', () => ks.set('probe-secret', secret), secret),
    get: await attempt('get', () => ks.get('probe-secret'), secret),
    delete: await attempt('delete', () => ks.delete('probe-secret'), secret),
    createDeviceKey: {
      ...device,
      leaksSecret: (device.ok === false && device.leaksSecret) || deviceKeyLeaks,
      reachedSet: handedOver.length > 0,
    },
  };
}

(mode === 'roundtrip'
  ? roundtrip()
  : mode === 'unavailable'
    ? unavailable()
    : Promise.reject(new Error(`unknown mode ${mode}`))
).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
  },
  (err: Error & { code?: string }) => {
    process.stdout.write(
      `${JSON.stringify({ failed: true, name: err.name, code: err.code ?? null, message: err.message })}\n`,
    );
    process.exitCode = 1;
  },
);
