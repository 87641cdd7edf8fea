import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { badRequest, GlanceError, serviceUnavailable } from '../domain/errors.js';
import { queuedWithoutData, type Image } from '../domain/image.js';
import { limitInUnits, NO_USAGE, overLimits, QuotaExceededError, usageOf, type Limits, type Usage } from '../domain/quota.js';
import type { BlobStore, StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { UsageRepository } from '../ports/usage-repository.js';
import type { AuthorizedImages } from './authorized-images.js';
import { checkReadyForData, errorName, isUnfinishedPutFile, objectKey } from './image-data.js';
import { activatedBy, refusalReason, StreamingImageDigester, type ImageDigest } from './image-digest.js';
import { MultipartWriter } from './multipart-writer.js';
import { lostRace, nextVersion, saveOrConflict, saveUnlessMoved } from './writes.js';

export interface StreamedBody {
  /** The request body as it arrives (chunked or with a Content-Length). */
  chunks: AsyncIterable<Uint8Array>;
  /** Glance's x-openstack-image-size header, if the client sent it. */
  declaredSize: string | undefined;
  /** Glance's X-Image-Meta-Store header (PUT /file): the store the data lands in; absent: the default. */
  store?: string | undefined;
}

export interface StreamedDataSettings {
  /** Parts uploading to the store at once; memory is about this many parts plus one. */
  partsInFlight: number;
}

/** The quotas a streamed body is checked against as it arrives. */
export interface StreamedDataQuotas {
  usage: UsageRepository;
  /** A project's limits (none: unlimited). */
  limits: (project: string) => Limits;
}

/** The size quota a body's bytes count toward: image_size_total for PUT /file, image_stage_total for PUT /stage. */
type SizeResource = 'image_size_total' | 'image_stage_total';

/** How many bytes a body may bring before it takes its project over its size quota. */
interface SizeAllowance {
  resource: SizeResource;
  project: string;
  limits: Limits;
  /** The project's usage without this image's own. */
  others: Usage;
  bytes: number;
}

/**
 * Glance's own data paths (PUT /file, PUT /stage) for bodies of any size: the body streams into
 * a multipart upload as it arrives, while one digester computes size, MD5, SHA-512 and the format
 * inspection from the same chunks, so the data is never read back. PUT /file then activates (or
 * refuses, as the verifier does) with one conditional write before answering, as Glance does.
 * A body that breaks off aborts its multipart upload and queues the image again with the reason.
 */
export class StreamedDataService {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly stores: StoreBlobs,
    private readonly settings: StreamedDataSettings,
    private readonly quotas: StreamedDataQuotas | undefined = undefined,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  /** PUT /v2/images/{id}/file, streamed: queued → saving → active (or queued, with the reason). */
  async putFile(caller: Caller, id: string, body: StreamedBody): Promise<void> {
    const declared = parseDeclaredSize(body.declaredSize);
    const image = await this.access.authorize('upload_image', caller, id);
    // A saving image without a session is an attempt that died (or is still running): a retry takes it over.
    if (!isUnfinishedPutFile(image)) checkReadyForData(image, 'saving');
    const store = this.stores.catalog.landingStore(body.store);
    const blobs = this.stores.in(store);
    const key = objectKey(id, this.newId());
    const { storeUploadId, allowance } = await this.openUpload(blobs, key, image, 'image_size_total');
    // No location while the body arrives: the object does not exist until the upload completes,
    // and a saving image with one reads to the sweepers as a PUT /file whose verification was
    // lost (re-driven after 5 minutes, refused as missing) while a long body is still arriving.
    // A crash leaves the image saving without data (the stuck-image sweep queues it again, a
    // retry takes it over) and the upload or object unowned (the orphan audit removes it).
    const saving = nextVersion({ ...image, status: 'saving', size: declared, location: null, stores: this.stores.catalog.recorded(store), failure: null }, this.clock());
    try {
      await saveOrConflict(this.repo, saving, image);
    } catch (error) {
      await blobs.abortMultipartUpload(key, storeUploadId);
      throw error;
    }
    const unfinished = image.status === 'saving' ? image.location : null;
    if (unfinished) for (const earlier of this.stores.catalog.storesOf(image)) await this.stores.in(earlier).deleteObject(unfinished).catch(() => undefined);

    const digester = new StreamingImageDigester();
    try {
      await this.stream(blobs, body.chunks, key, storeUploadId, declared, (chunk) => digester.update(chunk), allowance);
    } catch (error) {
      digester.dispose();
      await this.rollBack(saving, error instanceof GlanceError ? error.message : `the upload broke off (${errorName(error)})`);
      throw error instanceof GlanceError ? error : serviceUnavailable(`The image data could not be stored (${errorName(error)}); nothing was kept: retry the upload.`);
    }
    let digest: ImageDigest;
    try {
      digest = await digester.finish();
    } catch (error) {
      // A hashing worker failed: the stored bytes cannot be vouched for, so they are not kept.
      await blobs.deleteObject(key).catch(() => undefined);
      await this.rollBack(saving, `the data could not be digested (${errorName(error)})`);
      throw serviceUnavailable(`The image data could not be digested (${errorName(error)}); nothing was kept: retry the upload.`);
    }
    const reason = refusalReason(saving, digest);
    if (reason) {
      await blobs.deleteObject(key);
      await saveUnlessMoved(this.repo, nextVersion(queuedWithoutData(saving, `Image data was refused: ${reason}`), this.clock()), saving);
      throw badRequest(`Image data was refused: ${reason}`);
    }
    let activated: boolean;
    try {
      activated = await saveUnlessMoved(this.repo, nextVersion(activatedBy({ ...saving, location: key }, digest), this.clock()), saving, ['image.upload', 'image.activate']);
    } catch (error) {
      // Refused (a quota the size now known exceeds: 413) or failed: the bytes are not kept.
      await blobs.deleteObject(key).catch(() => undefined);
      await this.rollBack(saving, error instanceof GlanceError ? error.message : `the image could not be activated (${errorName(error)})`);
      throw error instanceof GlanceError ? error : serviceUnavailable(`The image data was stored but could not be recorded (${errorName(error)}); nothing was kept: retry the upload.`);
    }
    if (activated) return;
    // A concurrent PUT took the image over, or it was deleted: these bytes are no longer the image's.
    const current = await this.repo.get(id);
    if (current?.location !== key) await blobs.deleteObject(key).catch(() => undefined);
    throw lostRace(id, current);
  }

  /** PUT /v2/images/{id}/stage, streamed: the data is stored, then the image says uploading. */
  async stageFile(caller: Caller, id: string, body: StreamedBody): Promise<void> {
    const declared = parseDeclaredSize(body.declaredSize);
    const image = await this.access.authorize('modify_image', caller, id);
    checkReadyForData(image, 'uploading');
    // Staged data waits in the default store (Glance's staging area); the import lands it.
    const store = this.stores.catalog.defaultStore;
    const blobs = this.stores.in(store);
    const key = objectKey(id, this.newId());
    const { storeUploadId, allowance } = await this.openUpload(blobs, key, image, 'image_stage_total');
    let size = 0;
    await this.stream(blobs, body.chunks, key, storeUploadId, declared, (chunk) => (size += chunk.byteLength), allowance);
    try {
      const staged = { ...image, status: 'uploading' as const, size, location: key, stores: this.stores.catalog.recorded(store), failure: null };
      await saveOrConflict(this.repo, nextVersion(staged, this.clock()), image);
    } catch (error) {
      await blobs.deleteObject(key);
      throw error;
    }
  }

  /**
   * The body into the multipart upload, each chunk seen by `observe` on its way; completes the
   * upload, or aborts it and rethrows when the body breaks off, exceeds or falls short of the
   * declared size, or the store fails.
   */
  private async stream(
    blobs: BlobStore,
    chunks: AsyncIterable<Uint8Array>,
    key: string,
    storeUploadId: string,
    declared: number | null,
    observe: (chunk: Uint8Array) => unknown,
    allowance: SizeAllowance | null = null,
  ) {
    const writer = new MultipartWriter(blobs, key, storeUploadId, { partsInFlight: this.settings.partsInFlight });
    let received = 0;
    try {
      for await (const chunk of chunks) {
        received += chunk.byteLength;
        if (declared !== null && received > declared) throw badRequest(`x-openstack-image-size ${declared} does not match the ${received} or more bytes sent`);
        if (allowance && received > allowance.bytes) throw overQuota(allowance, received);
        // The digest's hashing runs on worker threads; it answers a promise only when it is behind.
        await observe(chunk);
        await writer.write(chunk);
      }
      if (declared !== null && received !== declared) throw badRequest(`x-openstack-image-size ${declared} does not match the ${received} bytes sent`);
      await writer.finish();
    } catch (error) {
      await writer.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The multipart upload the body goes into, and what its size quota allows; the usage read
   * (only for a project with that limit) goes with the store's call, not after it. An upload
   * opened when the read fails is aborted.
   */
  private async openUpload(blobs: BlobStore, key: string, image: Image, resource: SizeResource): Promise<{ storeUploadId: string; allowance: SizeAllowance | null }> {
    const [upload, read] = await Promise.allSettled([blobs.createMultipartUpload(key), this.sizeAllowance(image, resource)]);
    if (upload.status === 'rejected') throw upload.reason;
    if (read.status === 'rejected') {
      await blobs.abortMultipartUpload(key, upload.value).catch(() => undefined);
      throw read.reason;
    }
    return { storeUploadId: upload.value, allowance: read.value };
  }

  /**
   * What the image's project may still store toward `resource`, read once before the body
   * streams, so a body that takes it over is stopped as its bytes arrive instead of at the end.
   * The final write's conditional usage update stays the authority (concurrent uploads).
   */
  private async sizeAllowance(image: Image, resource: SizeResource): Promise<SizeAllowance | null> {
    if (!this.quotas || !image.owner) return null;
    const limits = this.quotas.limits(image.owner);
    const limit = limitInUnits(limits, resource);
    if (limit === undefined) return null;
    const stored = await this.quotas.usage.get(image.owner);
    // A retried saving image already counts its reservation: that part is this body's own.
    const others = { ...stored.usage, [resource]: stored.usage[resource] - usageOf(image)[resource] };
    return { resource, project: image.owner, limits, others, bytes: limit - others[resource] };
  }

  /** Best effort: the image queued again with the reason (its multipart upload is already aborted). */
  private async rollBack(saving: Image, reason: string): Promise<void> {
    await saveUnlessMoved(this.repo, nextVersion(queuedWithoutData(saving, reason), this.clock()), saving).catch(() => undefined);
  }
}

/** Glance's 413 for a body that has brought `received` bytes past its project's size quota. */
function overQuota(allowance: SizeAllowance, received: number): QuotaExceededError {
  const delta = { ...NO_USAGE, [allowance.resource]: received };
  return new QuotaExceededError(allowance.project, overLimits(allowance.limits, allowance.others, delta));
}

function parseDeclaredSize(declared: string | undefined): number | null {
  if (declared === undefined) return null;
  const trimmed = declared.trim();
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) throw badRequest(`x-openstack-image-size ${declared} is not a whole number of bytes`);
  return Number(trimmed);
}
