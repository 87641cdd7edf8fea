import { setTimeout as sleep } from 'node:timers/promises';
import { awaitsVerification, queuedWithoutData, type Image } from '../domain/image.js';
import { FAILED_IMPORT, IMPORTING_TO_STORES, storesProperty } from '../domain/stores.js';
import { checkUri, TransientFetchError, type FetchLimits, type ImportFilter } from '../domain/web-download.js';
import type { BlobStore, StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { VerificationRequest } from '../ports/workflows.js';
import { getPinned, type SourceResponse } from '../adapters/pinned-http.js';
import { MultipartWriter } from './multipart-writer.js';
import { nextVersion, saveUnlessMoved } from './writes.js';

export type FetchOutcome = { result: 'fetched'; size: number } | { result: 'failed'; reason: string } | { result: 'skipped'; why: string };

/** Parts uploading at once while a source streams in: memory stays near (4 + 1) parts (8 MiB each at first). */
const PARTS_IN_FLIGHT = 4;
/** How long a source that sent its body may take to close the connection it was asked to close. */
const CLOSE_WAIT_MS = 1000;

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
        const size = await this.download(request.uri, blobs, request.key, deadline);
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
  private async download(uri: string, blobs: BlobStore, key: string, deadline: number): Promise<number> {
    const response = await this.open(uri, deadline);
    const declared = contentLength(response);
    if (declared !== null && declared > this.limits.maxBytes) {
      response.body.destroy();
      throw new Error(`the source declares ${declared} bytes, more than the ${this.limits.maxBytes} allowed`);
    }
    const uploadId = await blobs.createMultipartUpload(key);
    const writer = new MultipartWriter(blobs, key, uploadId, { partsInFlight: PARTS_IN_FLIGHT });
    let received = 0;
    try {
      const timer = setTimeout(() => response.body.destroy(new TransientFetchError(`the fetch took longer than ${this.limits.timeoutSeconds} s`)), Math.max(0, deadline - Date.now()));
      try {
        for await (const chunk of response.body) {
          received += (chunk as Buffer).byteLength;
          if (declared !== null && received > declared) throw new Error(`the source sent more bytes than its Content-Length (${declared})`);
          if (received > this.limits.maxBytes) throw new Error(`the source sent more than the ${this.limits.maxBytes} bytes allowed`);
          await writer.write(chunk as Buffer);
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
