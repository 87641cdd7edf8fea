import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebFetcher } from '../../shared/app/web-fetch.js';
import { planRanges } from '../../shared/app/source-ranges.js';
import type { Image } from '../../shared/domain/image.js';
import { StoreCatalog } from '../../shared/domain/stores.js';
import { DEFAULT_FETCH_LIMITS, DEFAULT_IMPORT_FILTER, MAX_FETCH_RUNS } from '../../shared/domain/web-download.js';
import { singleStore, UploadGoneError, type BlobStore, type StoredPart } from '../../shared/ports/blob-store.js';
import { ConcurrentUpdateError, type ImageRepository } from '../../shared/ports/image-repository.js';
import { sampleImage } from '../support/sample-image.js';
import { startSourceServer, type SourceServer } from '../api/source-server.js';

/**
 * The fetcher's record of a ranged fetch (ImportFetch on the image) against a table and a
 * store kept in memory, and a source on 127.0.0.1: what each run reads, writes and resumes.
 */
const MiB = 1024 * 1024;
const SIZE = 20 * MiB + 99; // three ranges

/** One image item, saved only at its current version (as the table's condition does). */
class OneImage {
  writes = 0;
  /** Called before each save: a client's own write landing first. */
  before?: (stored: Image) => Image | undefined;
  constructor(public stored: Image) {}
  repo(): ImageRepository {
    return {
      get: async () => structuredClone(this.stored),
      save: async (next: Image, previous: Image) => {
        const moved = this.before?.(this.stored);
        if (moved) {
          this.before = undefined;
          this.stored = moved;
        }
        if (this.stored.version !== previous.version) throw new ConcurrentUpdateError(this.stored);
        this.writes++;
        this.stored = structuredClone(next);
      },
    } as unknown as ImageRepository;
  }
}

/** Multipart uploads in memory. */
class Uploads {
  readonly open = new Map<string, Map<number, Buffer>>();
  readonly completed = new Map<string, Buffer>();
  readonly aborted: string[] = [];
  blobs(): BlobStore {
    return {
      createMultipartUpload: async () => {
        const id = randomUUID();
        this.open.set(id, new Map());
        return id;
      },
      uploadPart: async (_key: string, id: string, n: number, body: Uint8Array) => {
        const parts = this.open.get(id);
        if (!parts) throw new UploadGoneError();
        parts.set(n, Buffer.from(body));
        return `"etag-${n}"`;
      },
      listParts: async (_key: string, id: string): Promise<StoredPart[]> => {
        const parts = this.open.get(id);
        if (!parts) throw new UploadGoneError();
        return [...parts].map(([partNumber, body]) => ({ partNumber, etag: `"etag-${partNumber}"`, size: body.length }));
      },
      completeMultipartUpload: async (key: string, id: string, parts: Array<{ partNumber: number }>) => {
        const stored = this.open.get(id)!;
        this.completed.set(key, Buffer.concat(parts.map((p) => stored.get(p.partNumber)!)));
        this.open.delete(id);
      },
      abortMultipartUpload: async (_key: string, id: string) => {
        this.aborted.push(id);
        this.open.delete(id);
      },
    } as unknown as BlobStore;
  }
}

let source: SourceServer;
let slow: SourceServer;
const data = randomBytes(SIZE);
beforeAll(async () => {
  source = await startSourceServer({ ranges: true });
  slow = await startSourceServer({ ranges: true, rangeDelayMs: 1100 });
  source.serve('disk', data);
});
afterAll(async () => {
  await source?.close();
  await slow?.close();
});

const etagOf = async (server: SourceServer, name: string) => (await fetch(`${server.base}/file/${name}`, { method: 'HEAD' })).headers.get('etag')!;

const filter = { ...DEFAULT_IMPORT_FILTER, allowLoopback: true, allowedPorts: [] };
const catalog = StoreCatalog.single('single', 'us-east-1');

function importing(overrides: Partial<Image> = {}): Image {
  return sampleImage({ status: 'importing', location: `images/x/${randomUUID()}`, import_source: `${source.base}/file/disk`, import_fetch: { started_at: new Date().toISOString() }, ...overrides });
}

function fetcherFor(image: OneImage, uploads: Uploads, limits = {}) {
  return new WebFetcher(image.repo(), singleStore(uploads.blobs(), catalog), filter, { ...DEFAULT_FETCH_LIMITS, ...limits }, undefined, () => new Date(), () => 1);
}

const requestOf = (image: Image) => ({ image_id: image.id, key: image.location!, uri: image.import_source! });

describe('WebFetcher, a ranged source', () => {
  it('records its upload (size, validator) in one write as it opens it, then completes it', async () => {
    const image = new OneImage(importing());
    const uploads = new Uploads();
    expect(await fetcherFor(image, uploads).fetch(requestOf(image.stored))).toEqual({ result: 'fetched', size: SIZE });
    expect(image.writes).toBe(1);
    expect(image.stored.import_fetch?.upload).toMatchObject({ size: SIZE, validator: expect.stringMatching(/^"/), runs: 1 });
    expect(uploads.completed.get(image.stored.location!)?.equals(data)).toBe(true);
  });

  it('writes its record over a client\'s own change (a PATCH) that moved the version meanwhile', async () => {
    const image = new OneImage(importing());
    image.before = (stored) => ({ ...stored, name: 'renamed', version: stored.version + 1 });
    const uploads = new Uploads();
    expect(await fetcherFor(image, uploads).fetch(requestOf(image.stored))).toMatchObject({ result: 'fetched' });
    expect(image.stored).toMatchObject({ name: 'renamed', import_fetch: { upload: { size: SIZE } } });
  });

  it('aborts its upload when the image stopped fetching before the upload was recorded (deleted meanwhile)', async () => {
    const image = new OneImage(importing());
    image.before = (stored) => ({ ...stored, status: 'pending_delete', version: stored.version + 1 });
    const uploads = new Uploads();
    expect(await fetcherFor(image, uploads).fetch(requestOf(image.stored))).toMatchObject({ result: 'skipped' });
    expect(uploads.aborted).toHaveLength(1);
    expect(uploads.open.size).toBe(0);
  });

  it('resumes a recorded upload: only the ranges whose parts are not stored are fetched, with no write', async () => {
    const uploads = new Uploads();
    const id = await uploads.blobs().createMultipartUpload('k');
    const [first] = planRanges(SIZE);
    await uploads.blobs().uploadPart('k', id, 1, data.subarray(0, first!.length));
    const validator = await etagOf(source, 'disk');
    const image = new OneImage(importing({ import_fetch: { started_at: new Date().toISOString(), upload: { upload_id: id, size: SIZE, validator, runs: 1 } } }));
    const before = source.requests.get('/file/disk 0') ?? 0;
    expect(await fetcherFor(image, uploads).fetch(requestOf(image.stored))).toEqual({ result: 'fetched', size: SIZE });
    expect(source.requests.get('/file/disk 0') ?? 0).toBe(before);
    expect(image.writes).toBe(0);
    expect(uploads.completed.get(image.stored.location!)?.equals(data)).toBe(true);
  });

  it('starts over when the recorded upload is gone, recording the new one', async () => {
    const image = new OneImage(importing({ import_fetch: { started_at: new Date().toISOString(), upload: { upload_id: 'gone', size: SIZE, validator: '"x"', runs: 2 } } }));
    const uploads = new Uploads();
    expect(await fetcherFor(image, uploads).fetch(requestOf(image.stored))).toMatchObject({ result: 'fetched' });
    expect(image.stored.import_fetch?.upload).toMatchObject({ upload_id: expect.not.stringMatching(/^gone$/), runs: 3 });
  });

  it('fails the import once the whole fetch\'s limit has passed since the import started, aborting the recorded upload after the write', async () => {
    const uploads = new Uploads();
    const id = await uploads.blobs().createMultipartUpload('k');
    const started_at = new Date(Date.now() - 25 * 3600 * 1000).toISOString();
    const image = new OneImage(importing({ import_fetch: { started_at, upload: { upload_id: id, size: SIZE, validator: '"x"', runs: 4 } } }));
    const outcome = await fetcherFor(image, uploads).fetch(requestOf(image.stored));
    expect(outcome).toEqual({ result: 'failed', reason: expect.stringMatching(/took longer than 86400 s \(SKYGLASS_IMPORT_TIMEOUT_SECONDS/) });
    expect(image.stored).toMatchObject({ status: 'queued', location: null });
    expect(image.stored.import_fetch).toBeUndefined();
    expect(uploads.aborted).toEqual([id]);
  });

  it('fetches a ranged source without a validator in one run only: past its budget the import fails, saying why', async () => {
    const bare = await startSourceServer({ ranges: true, rangeDelayMs: 1100, noValidator: true });
    try {
      bare.serve('bare', randomBytes(36 * MiB + 5));
      const image = new OneImage(importing({ import_source: `${bare.base}/slow-ranges/bare` }));
      const uploads = new Uploads();
      const outcome = await fetcherFor(image, uploads, { runSeconds: 1 }).fetch(requestOf(image.stored));
      expect(outcome).toEqual({ result: 'failed', reason: expect.stringMatching(/longer than 1 s, the most one run of the fetcher may take, and the source gives no strong ETag or Last-Modified to resume by, so it could not be fetched in parts over several runs/) });
      // No record (nothing to resume by): the failure is the one write, then the upload aborted.
      expect(image.writes).toBe(1);
      expect(uploads.aborted).toHaveLength(1);
      expect(uploads.open.size).toBe(0);
    } finally {
      await bare.close();
    }
  });

  it('fails the import, instead of going on, when the run had what was left of the whole fetch\'s time', async () => {
    const long = randomBytes(36 * MiB + 5);
    slow.serve('late', long);
    const uploads = new Uploads();
    const id = await uploads.blobs().createMultipartUpload('k');
    // One second of the 24 h left: the run's four ranges (1.1 s each) end past it.
    const started_at = new Date(Date.now() - (86_400 - 1) * 1000).toISOString();
    const image = new OneImage(importing({ import_source: `${slow.base}/slow-ranges/late`, import_fetch: { started_at, upload: { upload_id: id, size: long.length, validator: await etagOf(slow, 'late'), runs: 7 } } }));
    expect(await fetcherFor(image, uploads).fetch(requestOf(image.stored))).toEqual({ result: 'failed', reason: expect.stringMatching(/took longer than 86400 s/) });
    expect(uploads.aborted).toEqual([id]);
  });

  it('stops a run near its budget with one write and answers continue; fails the import rather than run past MAX_FETCH_RUNS', async () => {
    // Five ranges, each answered after 1.1 s: a run of 1 s starts four, then stops.
    const long = randomBytes(36 * MiB + 5);
    slow.serve('long', long);
    const validator = await etagOf(slow, 'long');
    for (const [runs, expected] of [
      [1, { result: 'continue', parts_done: 4, parts: 5, runs: 2 }],
      [MAX_FETCH_RUNS, { result: 'failed', reason: `the fetch needed more than ${MAX_FETCH_RUNS} runs of the fetcher` }],
    ] as const) {
      const uploads = new Uploads();
      const id = await uploads.blobs().createMultipartUpload('k');
      const image = new OneImage(importing({ import_source: `${slow.base}/slow-ranges/long`, import_fetch: { started_at: new Date().toISOString(), upload: { upload_id: id, size: long.length, validator, runs } } }));
      expect(await fetcherFor(image, uploads, { runSeconds: 1 }).fetch(requestOf(image.stored))).toEqual(expected);
      expect(image.writes).toBe(1);
      if (expected.result === 'continue') {
        expect(image.stored.import_fetch?.upload?.runs).toBe(2);
        expect(uploads.open.get(id)?.size).toBe(4);
      } else {
        expect(image.stored.status).toBe('queued');
        expect(uploads.aborted).toEqual([id]);
      }
    }
  });
});
