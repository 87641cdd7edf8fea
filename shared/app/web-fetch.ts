import { setTimeout as sleep } from 'node:timers/promises';
import { awaitsVerification, queuedWithoutData, type Image } from '../domain/image.js';
import { FAILED_IMPORT, IMPORTING_TO_STORES, storesProperty } from '../domain/stores.js';
import { checkUri, TransientFetchError, type FetchLimits, type ImportFilter } from '../domain/web-download.js';
import type { BlobStore, StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { TaskRepository } from '../ports/task-repository.js';
import type { VerificationRequest } from '../ports/workflows.js';
import { getPinned, type SourceResponse } from '../adapters/pinned-http.js';
import { DEFAULT_PART_SIZE, MAX_PARTS, streamedPartSize } from '../domain/upload-plan.js';
import { MultipartWriter } from './multipart-writer.js';
import { nextVersion, saveUnlessMoved } from './writes.js';

export type FetchOutcome = { result: 'fetched'; size: number } | { result: 'failed'; reason: string } | { result: 'skipped'; why: string };

/** Parts uploading at once while a source streams in: memory stays near (4 + 1) parts (8 MiB each at first). */
const PARTS_IN_FLIGHT = 4;
/** How long a source that sent its body may take to close the connection it was asked to close. */
const CLOSE_WAIT_MS = 1000;
/** Ranges fetched at once from a source that takes them; memory is about this many parts. */
const RANGES_IN_FLIGHT = 4;
/** Sources up to two parts are one stream: ranges would gain nothing. */
const RANGED_FROM_BYTES = 2 * DEFAULT_PART_SIZE;

/**
 * The web-download workflow's first step: streams the image's source URI into its `location`
 * in the default store as one multipart upload (bounded memory, MultipartWriter), following
 * only allowed redirects to checked addresses (adapters/pinned-http.ts). Transient failures
 * are tried again with backoff; a failure that stays ends the import as Glance reports it:
 * the image queued again with `os_glance_failed_import` naming its stores and the reason in
 * `os_skyglass_failure`, its task `failure`, in one conditional write.
 *
 * Idempotent: it acts only on an image importing from this URI into this key, and a re-run
 * (a retry, the sweeper's re-drive) fetches into the same key again.
 */
export class WebFetcher {
  constructor(
    private readonly repo: ImageRepository,
    private readonly stores: StoreBlobs,
    private readonly filter: ImportFilter,
    private readonly limits: FetchLimits,
    private readonly tasks?: Pick<TaskRepository, 'recordProgress'>,
    private readonly clock: () => Date = () => new Date(),
    private readonly backoffMs: (attempt: number) => number = (attempt) => 1000 * 2 ** (attempt - 1),
  ) {}

  async fetch(request: VerificationRequest): Promise<FetchOutcome> {
    const image = await this.fetchingImage(request);
    if (!image || !request.uri) return { result: 'skipped', why: `image ${request.image_id} is not fetching ${request.uri ?? 'a URI'} into ${request.key}` };
    const store = this.stores.catalog.storesOf(image)[0] ?? this.stores.catalog.defaultStore;
    const blobs = this.stores.in(store);
    const deadline = Date.now() + this.limits.timeoutSeconds * 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        const size = await this.download(request.uri, blobs, request.key, deadline, this.progressOf(image));
        return { result: 'fetched', size };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const retry = error instanceof TransientFetchError && attempt < this.limits.attempts && Date.now() + this.backoffMs(attempt) < deadline;
        if (!retry) return this.fail(image, reason);
        await sleep(this.backoffMs(attempt));
      }
    }
  }

  /** The workflow's last resort when the fetcher itself kept failing: the import fails with the error. */
  async giveUp(request: VerificationRequest, error: string): Promise<FetchOutcome> {
    const image = await this.fetchingImage(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} is not fetching into ${request.key}` };
    return this.fail(image, `the fetch did not finish (${error})`);
  }

  private async fetchingImage(request: VerificationRequest): Promise<Image | undefined> {
    const image = await this.repo.get(request.image_id);
    return image && image.status === 'importing' && awaitsVerification(image) && image.location === request.key && image.import_source === request.uri ? image : undefined;
  }

  /** One attempt: the source's bytes into `key`; the upload is aborted on any failure. */
  private async download(uri: string, blobs: BlobStore, key: string, deadline: number, progress: FetchProgress): Promise<number> {
    const response = await this.open(uri, deadline);
    const declared = contentLength(response);
    if (declared !== null && declared > this.limits.maxBytes) {
      response.body.destroy();
      throw new Error(`the source declares ${declared} bytes, more than the ${this.limits.maxBytes} allowed`);
    }
    // A source that takes ranges and is more than a couple of parts is fetched range by range,
    // several at once, each range one part (retried on its own); otherwise as one stream.
    if (declared !== null && response.headers['accept-ranges'] === 'bytes' && declared > RANGED_FROM_BYTES) {
      response.body.destroy();
      return this.downloadRanges(response.url, declared, entityValidator(response), blobs, key, deadline, progress.of(declared));
    }
    const uploadId = await blobs.createMultipartUpload(key);
    const writer = new MultipartWriter(blobs, key, uploadId, { partsInFlight: PARTS_IN_FLIGHT });
    const recorder = progress.of(declared);
    let received = 0;
    try {
      const timer = setTimeout(() => response.body.destroy(new TransientFetchError(`the fetch took longer than ${this.limits.timeoutSeconds} s`)), Math.max(0, deadline - Date.now()));
      try {
        for await (const chunk of response.body) {
          received += (chunk as Buffer).byteLength;
          if (declared !== null && received > declared) throw new Error(`the source sent more bytes than its Content-Length (${declared})`);
          if (received > this.limits.maxBytes) throw new Error(`the source sent more than the ${this.limits.maxBytes} bytes allowed`);
          await writer.write(chunk as Buffer);
          await recorder(received);
        }
      } catch (error) {
        throw asFetchError(error);
      } finally {
        clearTimeout(timer);
      }
      if (declared !== null && received < declared) throw new TransientFetchError(`the connection ended after ${received} of ${declared} bytes`);
      // Bytes past Content-Length surface as the connection's parse error once it closes (it
      // was asked to close; a server that keeps it open gets a moment, then it is closed here).
      await Promise.race([response.closed, sleep(CLOSE_WAIT_MS)]);
      response.body.socket?.destroy();
      await response.closed;
      await writer.finish();
      return received;
    } catch (error) {
      response.body.destroy();
      await writer.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The source as `planRanges` cuts it, RANGES_IN_FLIGHT ranges at once: each range read whole
   * into memory and written as its part, so memory is about RANGES_IN_FLIGHT parts. A range
   * that breaks off is fetched again with backoff; If-Range makes a source that changed
   * meanwhile answer 200, which fails the fetch rather than mixing two versions.
   */
  private async downloadRanges(url: URL, size: number, validator: string | undefined, blobs: BlobStore, key: string, deadline: number, recorder: (bytes: number) => Promise<void>): Promise<number> {
    const ranges = planRanges(size);
    if (ranges.length > MAX_PARTS) throw new Error(`the source's ${size} bytes need more than ${MAX_PARTS} parts`);
    const uploadId = await blobs.createMultipartUpload(key);
    const parts: Array<{ partNumber: number; etag: string }> = [];
    let next = 0;
    let done = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < ranges.length) {
        const range = ranges[next++]!;
        try {
          const body = await this.fetchRange(url, range, size, validator, deadline);
          if (failure !== undefined) return;
          parts.push({ partNumber: range.partNumber, etag: await blobs.uploadPart(key, uploadId, range.partNumber, body) });
          await recorder((done += range.length));
        } catch (error) {
          failure ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RANGES_IN_FLIGHT, ranges.length) }, worker));
    if (failure !== undefined) {
      await blobs.abortMultipartUpload(key, uploadId).catch(() => undefined);
      throw failure;
    }
    parts.sort((a, b) => a.partNumber - b.partNumber);
    await blobs.completeMultipartUpload(key, uploadId, parts);
    return size;
  }

  /** One range, whole, with its own retries. */
  private async fetchRange(url: URL, range: PlannedRange, size: number, validator: string | undefined, deadline: number): Promise<Buffer> {
    const last = range.offset + range.length - 1;
    for (let attempt = 1; ; attempt++) {
      try {
        if (Date.now() > deadline) throw new Error(`the fetch took longer than ${this.limits.timeoutSeconds} s`);
        const response = await getPinned(checkUri(url.href, this.filter), this.filter, {
          maxRedirects: this.limits.maxRedirects,
          idleMs: Math.min(this.limits.idleSeconds * 1000, Math.max(1, deadline - Date.now())),
          headers: { Range: `bytes=${range.offset}-${last}`, ...(validator && { 'If-Range': validator }) },
        });
        if (response.status !== 206) {
          response.body.resume();
          const why = `the source answered HTTP ${response.status} to the range ${range.offset}-${last}${response.status === 200 ? ' (it changed while fetched, or stopped taking ranges)' : ''}`;
          throw response.status >= 500 || response.status === 429 ? new TransientFetchError(why) : new Error(why);
        }
        const expected = `bytes ${range.offset}-${last}/${size}`;
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
        if (!(error instanceof TransientFetchError) || attempt >= this.limits.attempts) throw error;
        await sleep(this.backoffMs(attempt));
      }
    }
  }

  /**
   * Progress on the import's task, sparingly: a write each time another `progressEveryBytes`
   * have arrived (never per part); a failed write only loses that report.
   */
  private progressOf(image: Image): FetchProgress {
    const { tasks } = this;
    const every = this.limits.progressEveryBytes;
    const taskId = image.task_id;
    return {
      of: (declared) => {
        let next = every;
        return async (bytes) => {
          if (!tasks || !taskId || bytes < next) return;
          next = (Math.floor(bytes / every) + 1) * every;
          const message = `Fetched ${Math.floor(bytes / MIB)} MiB${declared === null ? '' : ` of ${Math.floor(declared / MIB)} MiB`} from the source`;
          await tasks.recordProgress(taskId, image.id, message).catch(() => false);
        };
      },
    };
  }

  private async open(uri: string, deadline: number): Promise<SourceResponse> {
    const response = await getPinned(checkUri(uri, this.filter), this.filter, {
      maxRedirects: this.limits.maxRedirects,
      idleMs: Math.min(this.limits.idleSeconds * 1000, Math.max(1, deadline - Date.now())),
    });
    if (response.status === 200) return response;
    response.body.resume();
    const why = `the source answered HTTP ${response.status} for ${response.url.href}`;
    throw response.status >= 500 || response.status === 429 ? new TransientFetchError(why) : new Error(why);
  }

  /** Queued again, as Glance leaves a failed import: its stores in os_glance_failed_import, the reason shown. */
  private async fail(image: Image, reason: string): Promise<FetchOutcome> {
    const stores = image.import_targets?.stores ?? [this.stores.catalog.defaultStore.id];
    const queued = queuedWithoutData(image, `web-download of ${image.import_source ?? 'its URI'} failed: ${reason}`);
    const next = nextVersion({ ...queued, import_targets: null, properties: { ...image.properties, [IMPORTING_TO_STORES]: '', [FAILED_IMPORT]: storesProperty(stores) } }, this.clock());
    if (!(await saveUnlessMoved(this.repo, next, image))) return { result: 'skipped', why: 'another writer changed the image first' };
    return { result: 'failed', reason };
  }
}

interface FetchProgress {
  /** A recorder for one attempt, given the bytes received so far. */
  of(declared: number | null): (bytes: number) => Promise<void>;
}

const MIB = 1024 * 1024;

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
function entityValidator(response: SourceResponse): string | undefined {
  const etag = response.headers.etag;
  if (etag && !etag.startsWith('W/')) return etag;
  return response.headers['last-modified'];
}

function contentLength(response: SourceResponse): number | null {
  const value = response.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}

/** A body that broke off (reset, aborted) is transient; what the checks threw stays as it is. */
function asFetchError(error: unknown): Error {
  if (error instanceof TransientFetchError) return error;
  const code = (error as { code?: string }).code;
  if (code === 'ECONNRESET' || code === 'ECONNABORTED' || code === 'EPIPE' || code === 'ETIMEDOUT' || (error as Error).message === 'aborted') {
    return new TransientFetchError(`the connection broke off (${code ?? (error as Error).message})`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
