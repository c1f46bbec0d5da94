// SHA-256 that runs everywhere (Node, browser, Electron renderer) and synchronously:
// @noble/hashes is audited and dependency-free, so `shared/` needs no Node built-in.
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';

export function sha256Hex(data: string | Uint8Array): string {
  return bytesToHex(sha256(typeof data === 'string' ? utf8ToBytes(data) : data));
}
