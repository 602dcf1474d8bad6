// Request-body helpers shared by the OpAMP transport and the OTLP receiver.
import { createHash, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
}

/** Decompresses a gzip body, refusing (PayloadTooLargeError) more than `max` bytes of output:
 * a small bomb must not make the hub allocate gigabytes. Other failures throw as they are. */
export async function gunzipBounded(body: Buffer, max: number): Promise<Buffer> {
  try {
    return await gunzipAsync(body, { maxOutputLength: max });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new PayloadTooLargeError(`body larger than ${max} bytes once decompressed`);
    }
    throw err;
  }
}

/** Constant-time comparison of a bearer token (hashes first, so lengths do not leak). */
export function bearerMatches(header: string | undefined, secret: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}
