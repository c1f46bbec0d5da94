// Where the control plane is reached by people: its public URL fixes the WebAuthn relying party
// (RP ID = the URL's host name) and the origins a ceremony may come from. `serve` records it.
import fs from 'node:fs';
import path from 'node:path';
import { writeAtomic } from '../platform/fs-safe';

export interface ServerConfig {
  publicUrl: string;
  rpId: string;
  rpName: string;
  origins: string[];
}

export function configFor(publicUrl: string): ServerConfig {
  const u = new URL(publicUrl);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(u.hostname) || u.hostname.includes(':')) {
    // WebAuthn RP IDs are domain names: an IP address can never be one
    throw new Error(
      `the public URL must use a host name, not an IP address (WebAuthn refuses IPs): try http://localhost:${u.port || 80}`,
    );
  }
  if (u.protocol !== 'https:' && u.hostname !== 'localhost')
    throw new Error('the public URL must be https (http is only allowed for localhost)');
  return { publicUrl: u.origin, rpId: u.hostname, rpName: 'PIM Agent', origins: [u.origin] };
}

export function saveConfig(dir: string, c: ServerConfig): void {
  writeAtomic(path.join(dir, 'server-config.json'), JSON.stringify(c, null, 2) + '\n');
}

export function loadConfig(dir: string): ServerConfig | null {
  const f = path.join(dir, 'server-config.json');
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as ServerConfig) : null;
}
