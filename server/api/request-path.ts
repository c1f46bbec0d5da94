// The path of a request URL as routes, TUF files, ceremony pages and the device signature (htu) see it.

/** The path of a request URL, percent-decoded; null when it is not valid. */
export function decodedPath(url: string): string | null {
  const q = url.indexOf('?');
  try {
    return decodeURIComponent(q < 0 ? url : url.slice(0, q));
  } catch {
    return null;
  }
}
