import { setTimeout as sleep } from 'node:timers/promises';
import { awaitsVerification, queuedWithoutData, type FetchUpload, type Image } from '../domain/image.js';
import { FAILED_IMPORT, IMPORTING_TO_STORES, storesProperty } from '../domain/stores.js';
import { checkUri, MAX_FETCH_RUNS, TransientFetchError, type FetchLimits, type ImportFilter } from '../domain/web-download.js';
import { UploadGoneError, type BlobStore, type StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { TaskRepository } from '../ports/task-repository.js';
import type { VerificationRequest } from '../ports/workflows.js';
import { getPinned, type SourceResponse } from '../adapters/pinned-http.js';
import { DEFAULT_PART_SIZE, MAX_PARTS } from '../domain/upload-plan.js';
import { MultipartWriter } from './multipart-writer.js';
import { asFetchError, CLOSE_WAIT_MS, contentLength, entityValidator, fetchRange, planRanges, RunOverError, type PlannedRange, type RunBudget } from './source-ranges.js';
import { nextVersion, saveUnlessMoved } from './writes.js';

export type FetchOutcome =
  | { result: 'fetched'; size: number }
  /** The run's budget is spent and parts remain: the workflow runs the fetcher again, which resumes. */
  | { result: 'continue'; parts_done: number; parts: number; runs: number }
  | { result: 'failed'; reason: string }
  | { result: 'skipped'; why: string };

/** Parts uploading at once while a source streams in: memory stays near (4 + 1) parts (8 MiB each at first). */
const PARTS_IN_FLIGHT = 4;
/** Ranges fetched at once from a source that takes them; memory is about this many parts. */
const RANGES_IN_FLIGHT = 4;
/** Sources up to two parts are one stream: ranges would gain nothing. */
const RANGED_FROM_BYTES = 2 * DEFAULT_PART_SIZE;
/** Writes of the fetch's record tried again after a client's own change to the image (a PATCH) moved its version. */
const RECORD_TRIES = 3;

/** A source fetched range by range: where, how big, and what If-Range compares. */
interface RangedSource {
  url: URL;
  size: number;
  validator: string | undefined;
}

/**
 * The web-download workflow's first step: fetches the image's source URI into its `location`
 * in the default store as one multipart upload (bounded memory), following only allowed
 * redirects to checked addresses (adapters/pinned-http.ts). Transient failures are tried again
 * with backoff; a failure that stays ends the import as Glance reports it: the image queued
 * again with `os_glance_failed_import` naming its stores and the reason in
 * `os_skyglass_failure`, its task `failure`, in one conditional write (then the upload aborted).
 *
 * One run has `runSeconds` (below the Lambda's 15 minutes). A source that takes ranges, with a
 * Content-Length and a validator, may take as many runs as it needs: its upload is recorded on
 * the image (ImportFetch.upload) when it is opened, a run that nears its budget stops starting
 * ranges, lets those in flight finish and answers `continue`, and the next run (the workflow's
 * loop, or a new execution the sweeper's re-drive starts after a crash) lists the parts already
 * stored and fetches the rest with If-Range. The item, not the execution, holds this state:
 * a re-drive starts a new execution, which knows only the image. Any other source must be
 * fetched within one run. The whole fetch, over all runs, ends at `timeoutSeconds` from the
 * import's start.
 *
 * Idempotent: it acts only on an image importing from this URI into this key, and a re-run
 * (a retry, the sweeper's re-drive) resumes the recorded upload, or fetches into the same key again.
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
    const blobs = this.blobsOf(image);
    const now = Date.now();
    // Items written before the fetch's start was recorded count from this run.
    const started = Date.parse(image.import_fetch?.started_at ?? '') || now;
    const run: RunBudget = { deadline: Math.min(now + this.limits.runSeconds * 1000, started + this.limits.timeoutSeconds * 1000), whole: started + this.limits.timeoutSeconds * 1000 };
    if (now >= run.whole) return this.fail(image, blobs, this.wholeTimeout());
    const recorded = image.import_fetch?.upload;
    if (recorded) {
      const resumed = await this.resume(image, blobs, request.uri, recorded, run);
      if (resumed) return resumed;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.download(image, request.uri, blobs, run);
      } catch (error) {
        if (error instanceof RecordedFetchError) throw error.cause;
        const reason = error instanceof Error ? error.message : String(error);
        const retry = error instanceof TransientFetchError && attempt < this.limits.attempts && Date.now() + this.backoffMs(attempt) < run.deadline;
        if (!retry) return this.fail(image, blobs, reason);
        await sleep(this.backoffMs(attempt));
      }
    }
  }

  /** The workflow's last resort when the fetcher itself kept failing: the import fails with the error. */
  async giveUp(request: VerificationRequest, error: string): Promise<FetchOutcome> {
    const image = await this.fetchingImage(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} is not fetching into ${request.key}` };
    return this.fail(image, this.blobsOf(image), `the fetch did not finish (${error})`);
  }

  private async fetchingImage(request: VerificationRequest): Promise<Image | undefined> {
    const image = await this.repo.get(request.image_id);
    return image && isFetching(image, request) ? image : undefined;
  }

  private blobsOf(image: Image): BlobStore {
    return this.stores.in(this.stores.catalog.storesOf(image)[0] ?? this.stores.catalog.defaultStore);
  }

  /**
   * A later run of a recorded ranged fetch: the parts the store holds (ListParts) are done,
   * part n being range n of the size recorded; the rest is fetched. Undefined when the upload
   * is gone (aborted by hand, expired by the bucket's lifecycle): the fetch starts over.
   */
  private async resume(image: Image, blobs: BlobStore, uri: string, upload: FetchUpload, run: RunBudget): Promise<FetchOutcome | undefined> {
    const key = image.location!;
    let stored;
    try {
      stored = await blobs.listParts(key, upload.upload_id);
    } catch (error) {
      if (error instanceof UploadGoneError) return undefined;
      throw error;
    }
    const ranges = planRanges(upload.size);
    const done = stored.filter((p) => ranges[p.partNumber - 1]?.length === p.size);
    return this.fetchParts(image, blobs, { url: new URL(uri), size: upload.size, validator: upload.validator }, upload, done, run, false);
  }

  /** One attempt from the start: the source's first answer decides between ranges and one stream. */
  private async download(image: Image, uri: string, blobs: BlobStore, run: RunBudget): Promise<FetchOutcome> {
    const key = image.location!;
    const response = await this.open(uri, run.deadline);
    const declared = contentLength(response);
    if (declared !== null && declared > this.limits.maxBytes) {
      response.body.destroy();
      throw new Error(`the source declares ${declared} bytes, more than the ${this.limits.maxBytes} allowed`);
    }
    // A source that takes ranges and is more than a couple of parts is fetched range by range,
    // several at once, each range one part (retried on its own); otherwise as one stream.
    if (declared !== null && response.headers['accept-ranges'] === 'bytes' && declared > RANGED_FROM_BYTES) {
      response.body.destroy();
      const source = { url: response.url, size: declared, validator: entityValidator(response) };
      if (planRanges(declared).length > MAX_PARTS) throw new Error(`the source's ${declared} bytes need more than ${MAX_PARTS} parts`);
      const uploadId = await blobs.createMultipartUpload(key);
      // Without a validator a later run could not tell whether the source changed: one run only.
      if (!source.validator) return this.fetchParts(image, blobs, source, { upload_id: uploadId, size: declared, validator: '', runs: 0 }, [], run, undefined);
      const upload: FetchUpload = { upload_id: uploadId, size: declared, validator: source.validator, runs: (image.import_fetch?.upload?.runs ?? 0) + 1 };
      try {
        const current = await this.record(image, upload);
        if (!current) return { result: 'skipped', why: 'the image stopped fetching before its upload was recorded' };
        return await this.fetchParts(current, blobs, source, upload, [], run, true);
      } catch (error) {
        throw new RecordedFetchError(error);
      }
    }
    const size = await this.stream(response, declared, blobs, key, run, this.progressOf(image), notResumable(response, declared));
    return { result: 'fetched', size };
  }

  /** One stream into `key`, within this run; the upload is aborted on any failure. */
  private async stream(response: SourceResponse, declared: number | null, blobs: BlobStore, key: string, run: RunBudget, progress: FetchProgress, why: string): Promise<number> {
    const uploadId = await blobs.createMultipartUpload(key);
    const writer = new MultipartWriter(blobs, key, uploadId, { partsInFlight: PARTS_IN_FLIGHT });
    const recorder = progress.of(declared);
    let received = 0;
    try {
      const timer = setTimeout(() => response.body.destroy(new TransientFetchError(this.runTimeout(run, why))), Math.max(0, run.deadline - Date.now()));
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
   * The ranges not yet `done`, RANGES_IN_FLIGHT at once, each read whole into memory and
   * written as its part (memory is about RANGES_IN_FLIGHT parts). `wrote`: whether this run
   * already wrote the fetch's record (undefined: the fetch is not resumable, one run only).
   * A resumable fetch stops starting ranges once the longest range of this run would not fit
   * in what is left of its budget, and a range whose retry would start past it is left to the
   * next run; the run then records itself (one write) and answers `continue`. Otherwise the
   * upload is completed, or on a failure the import fails and the upload is aborted.
   */
  private async fetchParts(image: Image, blobs: BlobStore, source: RangedSource, upload: FetchUpload, done: ReadonlyArray<{ partNumber: number; etag: string }>, run: RunBudget, wrote: boolean | undefined): Promise<FetchOutcome> {
    const key = image.location!;
    const resumable = wrote !== undefined;
    const ranges = planRanges(source.size);
    const have = new Set(done.map((p) => p.partNumber));
    const missing = ranges.filter((r) => !have.has(r.partNumber));
    const parts = done.map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
    const recorder = this.progressOf(image).of(source.size);
    let fetched = ranges.filter((r) => have.has(r.partNumber)).reduce((sum, r) => sum + r.length, 0);
    const settings = { filter: this.filter, limits: this.limits, backoffMs: this.backoffMs };
    let next = 0;
    let longest = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < missing.length) {
        if (resumable && Date.now() + longest >= run.deadline) return;
        const range: PlannedRange = missing[next++]!;
        const began = Date.now();
        try {
          const body = await fetchRange(source, range, run, settings);
          if (failure !== undefined) return;
          parts.push({ partNumber: range.partNumber, etag: await blobs.uploadPart(key, upload.upload_id, range.partNumber, body) });
          longest = Math.max(longest, Date.now() - began);
          await recorder((fetched += range.length));
        } catch (error) {
          // Out of this run's time: the next run fetches it (a one-run fetch fails instead).
          if (error instanceof RunOverError && resumable) continue;
          failure ??= error instanceof RunOverError ? new Error(this.runTimeout(run, 'the source gives no strong ETag or Last-Modified to resume by')) : error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RANGES_IN_FLIGHT, missing.length) }, worker));
    if (failure !== undefined) return this.fail(image, blobs, failure instanceof Error ? failure.message : String(failure), upload.upload_id);
    if (parts.length === ranges.length) {
      parts.sort((a, b) => a.partNumber - b.partNumber);
      await blobs.completeMultipartUpload(key, upload.upload_id, parts);
      return { result: 'fetched', size: source.size };
    }
    // This run had what was left of the whole fetch's time: no run comes after it.
    if (run.deadline >= run.whole || Date.now() >= run.whole) return this.fail(image, blobs, this.wholeTimeout(), upload.upload_id);
    if (upload.runs >= MAX_FETCH_RUNS) return this.fail(image, blobs, `the fetch needed more than ${MAX_FETCH_RUNS} runs of the fetcher`, upload.upload_id);
    // One write per run: it keeps the image's updated_at fresh (the stuck-image sweep leaves a
    // fetch that is still moving alone) and counts the run.
    const runs = wrote ? upload.runs : upload.runs + 1;
    if (!wrote && !(await this.record(image, { ...upload, runs }))) return { result: 'skipped', why: 'the image changed while it was fetched' };
    return { result: 'continue', parts_done: parts.length, parts: ranges.length, runs };
  }

  /**
   * The fetch's record on the image, in one conditional write (on its version; still importing
   * this URI into this key). A client's own change meanwhile (a PATCH) is read and written over
   * again; if the image stopped fetching, or another run recorded another upload, this run's
   * upload is nobody's: it is aborted, and undefined returned. The image as written, or as
   * another run on this same upload wrote it.
   */
  private async record(image: Image, upload: FetchUpload): Promise<Image | undefined> {
    const blobs = this.blobsOf(image);
    const request = { image_id: image.id, key: image.location!, uri: image.import_source ?? '' };
    const before = image.import_fetch?.upload?.upload_id;
    let current = image;
    for (let tries = 1; ; tries++) {
      const started_at = current.import_fetch?.started_at ?? this.clock().toISOString();
      const next = nextVersion({ ...current, import_fetch: { started_at, upload } }, this.clock());
      if (await saveUnlessMoved(this.repo, next, current)) return next;
      const fresh = await this.repo.get(image.id);
      const ours = fresh?.import_fetch?.upload?.upload_id;
      if (!fresh || !isFetching(fresh, request) || (ours !== before && ours !== upload.upload_id)) {
        await blobs.abortMultipartUpload(request.key, upload.upload_id).catch(() => undefined);
        return undefined;
      }
      // Another run on this same upload (a duplicate execution) wrote the same record first.
      if (ours === upload.upload_id && fresh.import_fetch?.upload?.runs === upload.runs) return fresh;
      // Out of tries: thrown, so the workflow's retry runs again (resuming what is recorded).
      if (tries >= RECORD_TRIES) throw new Error(`the fetch's record of image ${image.id} lost to other writes ${RECORD_TRIES} times`);
      current = fresh;
    }
  }

  private wholeTimeout(): string {
    return `the fetch took longer than ${this.limits.timeoutSeconds} s (SKYGLASS_IMPORT_TIMEOUT_SECONDS, the whole fetch over every run)`;
  }

  /** A one-run fetch that ran out of time: the whole fetch's limit, or the run's and why the source could not go on in another. */
  private runTimeout(run: RunBudget, why: string): string {
    if (run.deadline >= run.whole) return this.wholeTimeout();
    return `the fetch took longer than ${this.limits.runSeconds} s, the most one run of the fetcher may take, and ${why}, so it could not be fetched in parts over several runs`;
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

  /**
   * Queued again, as Glance leaves a failed import: its stores in os_glance_failed_import, the
   * reason shown; then the upload it was filling (and the one recorded on the image) aborted.
   * The write first: stopped between the two, the upload is one no image records, which the
   * audit sweep aborts; the other way round, a re-drive would find the image still fetching.
   */
  private async fail(image: Image, blobs: BlobStore, reason: string, openUpload?: string): Promise<FetchOutcome> {
    const stores = image.import_targets?.stores ?? [this.stores.catalog.defaultStore.id];
    const queued = queuedWithoutData(image, `web-download of ${image.import_source ?? 'its URI'} failed: ${reason}`);
    const next = nextVersion({ ...queued, import_targets: null, properties: { ...image.properties, [IMPORTING_TO_STORES]: '', [FAILED_IMPORT]: storesProperty(stores) } }, this.clock());
    if (!(await saveUnlessMoved(this.repo, next, image))) return { result: 'skipped', why: 'another writer changed the image first' };
    const uploads = new Set([openUpload, image.import_fetch?.upload?.upload_id].filter((id): id is string => !!id));
    if (image.location) for (const id of uploads) await blobs.abortMultipartUpload(image.location, id).catch(() => undefined);
    return { result: 'failed', reason };
  }
}

interface FetchProgress {
  /** A recorder for one attempt, given the bytes received so far. */
  of(declared: number | null): (bytes: number) => Promise<void>;
}

const MIB = 1024 * 1024;

/**
 * A store or table error once a ranged fetch is recording its upload (the source's failures
 * fail the import inside fetchParts): thrown out of the run, so the workflow's retry (or a
 * re-drive) resumes the recorded upload rather than this run failing the import on a stale image.
 */
class RecordedFetchError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'RecordedFetchError';
  }
}

/** Whether the image still fetches this request's URI into its key. */
function isFetching(image: Image, request: VerificationRequest): boolean {
  return image.status === 'importing' && awaitsVerification(image) && image.location === request.key && image.import_source === request.uri;
}

/** Why a source is fetched in one run: what it lacks to be resumed in another. */
function notResumable(response: SourceResponse, declared: number | null): string {
  if (declared === null || response.headers['accept-ranges'] !== 'bytes') return 'the source does not take ranges (Accept-Ranges: bytes with a Content-Length)';
  return `the source is no more than ${RANGED_FROM_BYTES} bytes, which are fetched as one stream`;
}
