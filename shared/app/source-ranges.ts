import { setTimeout as sleep } from 'node:timers/promises';
import { checkUri, TransientFetchError, type FetchLimits, type ImportFilter } from '../domain/web-download.js';
import { streamedPartSize } from '../domain/upload-plan.js';
import { getPinned, type SourceResponse } from '../adapters/pinned-http.js';

/** How long a source that sent its body may take to close the connection it was asked to close. */
export const CLOSE_WAIT_MS = 1000;

export interface PlannedRange {
  partNumber: number;
  offset: number;
  length: number;
}

/** The source cut as a streamed upload's parts are (streamedPartSize): range n is part n. */
export function planRanges(size: number): PlannedRange[] {
  const ranges: PlannedRange[] = [];
  for (let offset = 0, partNumber = 1; offset < size; partNumber++) {
    const length = Math.min(streamedPartSize(partNumber), size - offset);
    ranges.push({ partNumber, offset, length });
    offset += length;
  }
  return ranges;
}

/** A strong ETag, else Last-Modified: what If-Range compares (a weak ETag may not be used there). */
export function entityValidator(response: SourceResponse): string | undefined {
  const etag = response.headers.etag;
  if (etag && !etag.startsWith('W/')) return etag;
  return response.headers['last-modified'];
}

export function contentLength(response: SourceResponse): number | null {
  const value = response.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}

/** A body that broke off (reset, aborted) is transient; what the checks threw stays as it is. */
export function asFetchError(error: unknown): Error {
  if (error instanceof TransientFetchError) return error;
  const code = (error as { code?: string }).code;
  if (code === 'ECONNRESET' || code === 'ECONNABORTED' || code === 'EPIPE' || code === 'ETIMEDOUT' || (error as Error).message === 'aborted') {
    return new TransientFetchError(`the connection broke off (${code ?? (error as Error).message})`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A range not (or no longer) worth trying in this run: its budget is spent. A resumable fetch
 * leaves the range to the next run; any other fetch fails with the timeout.
 */
export class RunOverError extends Error {
  override readonly name = 'RunOverError';
}

/** When one fetcher run must stop, and whether what it leaves can be fetched by the next run. */
export interface RunBudget {
  /** Epoch ms: no range attempt starts after this. */
  readonly deadline: number;
  /** Epoch ms: the whole fetch's end (the import's start plus SKYGLASS_IMPORT_TIMEOUT_SECONDS). */
  readonly whole: number;
}

/**
 * One range of the source, whole, with its own retries: a body that breaks off or a 5xx is
 * tried again with backoff, unless the run's deadline has passed (RunOverError). If-Range
 * makes a source that changed answer 200, which fails the fetch rather than mixing versions.
 */
export async function fetchRange(
  source: { url: URL; size: number; validator: string | undefined },
  range: PlannedRange,
  run: RunBudget,
  settings: { filter: ImportFilter; limits: FetchLimits; backoffMs: (attempt: number) => number },
): Promise<Buffer> {
  const { limits } = settings;
  const last = range.offset + range.length - 1;
  for (let attempt = 1; ; attempt++) {
    try {
      if (Date.now() > run.deadline) throw new RunOverError(`the range ${range.offset}-${last} was not fetched within the run`);
      const response = await getPinned(checkUri(source.url.href, settings.filter), settings.filter, {
        maxRedirects: limits.maxRedirects,
        // A resumable range (there is a validator) started within the run may finish after its
        // deadline (the Lambda's timeout stands above it); a one-run fetch has the run's end. A
        // silent source is dropped after idleSeconds either way.
        idleMs: Math.min(limits.idleSeconds * 1000, Math.max(1, (source.validator ? run.whole : run.deadline) - Date.now())),
        headers: { Range: `bytes=${range.offset}-${last}`, ...(source.validator && { 'If-Range': source.validator }) },
      });
      if (response.status !== 206) {
        response.body.resume();
        const why = `the source answered HTTP ${response.status} to the range ${range.offset}-${last}${response.status === 200 ? ' (it changed while fetched, or stopped taking ranges)' : ''}`;
        throw response.status >= 500 || response.status === 429 ? new TransientFetchError(why) : new Error(why);
      }
      const expected = `bytes ${range.offset}-${last}/${source.size}`;
      if (response.headers['content-range'] !== expected) {
        response.body.resume();
        throw new Error(`the source answered the range ${range.offset}-${last} with Content-Range ${response.headers['content-range'] ?? '(none)'}`);
      }
      const body = Buffer.allocUnsafe(range.length);
      let received = 0;
      try {
        for await (const chunk of response.body) {
          const bytes = chunk as Buffer;
          if (received + bytes.byteLength > range.length) throw new Error(`the source sent more bytes than the range ${range.offset}-${last} holds`);
          bytes.copy(body, received);
          received += bytes.byteLength;
        }
      } catch (error) {
        response.body.destroy();
        throw asFetchError(error);
      }
      if (received < range.length) throw new TransientFetchError(`the range ${range.offset}-${last} ended after ${received} of ${range.length} bytes`);
      await Promise.race([response.closed, sleep(CLOSE_WAIT_MS)]);
      response.body.socket?.destroy();
      await response.closed;
      return body;
    } catch (error) {
      if (!(error instanceof TransientFetchError) || attempt >= limits.attempts) throw error;
      await sleep(settings.backoffMs(attempt));
    }
  }
}
