// The HTTP side of the TUF client. tuf-js verifies everything it downloads; this adds what it
// does not: time-outs, size caps, and the distinct-key guard (key-guard.ts).
import { BaseFetcher } from 'tuf-js';
import { RefreshError } from './errors';
import { checkDistinctKeys } from './key-guard';
import { errorCause, errorCode, errorMessage, errorName } from '../../shared/errors';
// tuf-js recognises "no newer root" only through its own error class, which it does not re-export.
import { DownloadHTTPError } from 'tuf-js/dist/error';

export class GuardedFetcher extends BaseFetcher {
  /** the last error this fetcher raised: tuf-js re-wraps some of them as plain text */
  lastError: Error | null = null;

  constructor(private readonly timeoutMs = 10_000) {
    super();
  }

  private fail(e: Error): never {
    this.lastError = e;
    throw e;
  }

  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const res = await this.get(url);
    if (!res.body) this.fail(new RefreshError('garbage', `empty answer from ${url}`, 'rejected'));
    return res.body;
  }

  // Metadata arrives here: read into memory with a cap, then check it before tuf-js sees it.
  override async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const res = await this.get(url);
    const reader = res.body?.getReader();
    const chunks: Buffer[] = [];
    let total = 0;
    if (reader) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > maxLength) {
          await reader.cancel();
          this.fail(new RefreshError('garbage', `${basename(url)} is larger than ${maxLength} bytes`, 'rejected'));
        }
        chunks.push(Buffer.from(value));
      }
    }
    const bytes = Buffer.concat(chunks);
    try {
      checkDistinctKeys(basename(url), bytes);
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(errorMessage(e)));
    }
    return bytes;
  }

  private async get(url: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
        headers: { accept: 'application/json' },
      });
    } catch (e) {
      const cause = errorCode(errorCause(e)) ?? errorName(e);
      this.fail(
        new RefreshError(
          'unreachable',
          `cannot reach the control plane at ${new URL(url).origin} (${cause})`,
          'offline',
        ),
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      this.fail(new DownloadHTTPError(`control plane answered HTTP ${res.status} for ${basename(url)}`, res.status));
    }
    return res;
  }
}

function basename(url: string): string {
  return new URL(url).pathname.split('/').pop() ?? url;
}
