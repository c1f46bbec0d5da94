// Which keystore the agent uses: the OS keychain, unless PIM_KEYSTORE=file says otherwise.
import { FileKeystore } from './file-keystore';
import { KeystoreError, type Keystore } from './keystore';
import { OsKeychain } from './os-keychain';
import { rememberedKeystore } from './choice';

export { KeystoreError, SECRET_NAME, MAX_SECRET_BYTES, type Keystore, type KeystoreErrorCode } from './keystore';
export { FileKeystore } from './file-keystore';
export { rememberedKeystore, rememberKeystore, settleKeystore, type KeystoreChoice } from './choice';
export { OsKeychain, KEYCHAIN_SERVICE, homeTag } from './os-keychain';
export {
  DEVICE_KEY_SECRET,
  createDeviceKey,
  loadDeviceKey,
  signDeviceRequest,
  type DeviceKey,
  type DeviceRequestClaims,
} from './device-key';

/** PIM_KEYSTORE: `os` → the OS keychain; `file` → files under <home>/keystore/; unset or empty →
 *  what this home chose at enrolment (keystore.json), else the OS keychain. */
export function openKeystore(home: string, env: NodeJS.ProcessEnv = process.env): Keystore {
  const choice = env.PIM_KEYSTORE || rememberedKeystore(home)?.kind || '';
  if (choice === '' || choice === 'os') return new OsKeychain(home);
  if (choice === 'file') return new FileKeystore(home);
  const shown = JSON.stringify(choice.length > 40 ? `${choice.slice(0, 40)}…` : choice);
  throw new KeystoreError(
    'unavailable',
    `PIM_KEYSTORE=${shown} is not a keystore: use PIM_KEYSTORE=os (the OS keychain, the default) or PIM_KEYSTORE=file (files protected only by permissions)`,
  );
}
