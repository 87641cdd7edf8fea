import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { enforceOnImage } from '../domain/image-access.js';
import { badRequest, conflict, forbidden, imageNotFound, notFound, serviceUnavailable } from '../domain/errors.js';
import { glanceTimestamp, queuedWithoutData, type Image, type UploadSession } from '../domain/image.js';
import { transitionRefusedMessage, type ImageStatus } from '../domain/status.js';
import type { StoreCatalog } from '../domain/stores.js';
import { LISTED_PARTS, missingParts, plannedPart, planUpload, type UploadPlan, type UploadSessionView } from '../domain/upload-plan.js';
import { PartsRefusedError, UploadGoneError, type BlobStore, type StoreBlobs } from '../ports/blob-store.js';
import { ConcurrentUpdateError, type ImageRepository } from '../ports/image-repository.js';
import type { VerificationRequest, Workflows } from '../ports/workflows.js';
import type { AuthorizedImages } from './authorized-images.js';
import type { ImageVerifier, VerificationOutcome } from './verify-image.js';
import { lostRace, nextVersion, saveOrConflict, saveUnlessMoved } from './writes.js';

export interface DataSettings {
  /** Lifetime of each presigned part URL. */
  partUrlSeconds: number;
  /** How long an upload session may stay open before the sweeper aborts it. */
  sessionSeconds: number;
  /** Lifetime of a download redirect's presigned URL. */
  downloadUrlSeconds: number;
}

export type DownloadAnswer = { kind: 'no-data' } | { kind: 'redirect'; url: string };

const HEX32 = /^[0-9a-f]{32}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const UPLOAD_FIELDS = new Set(['size', 'part_size', 'stage', 'checksum', 'os_hash_value']);

/**
 * Image data use cases. Bytes move between clients and the object store directly (presigned
 * multipart uploads, redirected downloads); small bodies through the API are kept for Glance
 * compatibility. Every status change is one conditional write.
 */
export class ImageDataService {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly stores: StoreBlobs,
    private readonly workflows: Workflows,
    private readonly settings: DataSettings,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  /**
   * POST /v2/images/{id}/uploads. The parts land in the store X-Image-Meta-Store names (as
   * Glance's PUT /file), else the default; staged uploads wait in the default store.
   */
  async createUpload(caller: Caller, id: string, body: unknown, storeHeader?: string): Promise<UploadSessionView> {
    const request = parseUploadRequest(body);
    const image = await this.access.authorize('upload_image', caller, id);
    const target: ImageStatus = request.stage ? 'uploading' : 'saving';
    checkReadyForData(image, target);
    const plan = planUpload(request.size, request.part_size);
    const store = request.stage ? this.stores.catalog.defaultStore : this.stores.catalog.landingStore(storeHeader);
    const blobs = this.stores.in(store);
    const uploadId = this.newId();
    const key = objectKey(id, uploadId);
    const storeUploadId = await blobs.createMultipartUpload(key);
    const now = this.clock();
    const session: UploadSession = {
      upload_id: uploadId,
      store_upload_id: storeUploadId,
      key,
      size: plan.size,
      part_size: plan.partSize,
      part_count: plan.partCount,
      stage: request.stage,
      created_at: glanceTimestamp(now),
      expires_at: glanceTimestamp(new Date(now.getTime() + this.settings.sessionSeconds * 1000)),
      state: 'open',
      checksum: request.checksum,
      os_hash_value: request.os_hash_value,
    };
    try {
      await this.save(this.bump({ ...image, status: target, upload: session, stores: this.stores.catalog.recorded(store), failure: null }), image);
    } catch (error) {
      // The image was not ours to move: leave nothing behind at the store.
      await blobs.abortMultipartUpload(key, storeUploadId);
      throw error;
    }
    return { ...sessionView(id, session), parts: await this.partUrls(blobs, session, plan, []) };
  }

  /** GET /v2/images/{id}/uploads/{upload_id}: what the store holds, and fresh URLs for the rest. */
  async getUpload(caller: Caller, id: string, uploadId: string): Promise<UploadSessionView> {
    const image = await this.access.authorize('upload_image', caller, id);
    const session = openSession(image, uploadId);
    const blobs = this.landedIn(image);
    const done = session.state === 'completing' ? [] : await this.storedParts(blobs, session);
    return {
      ...sessionView(id, session),
      state: session.state,
      parts_done: done.map((p) => ({ part_number: p.partNumber, etag: p.etag, size: p.size })),
      parts: session.state === 'completing' ? [] : await this.partUrls(blobs, session, planOf(session), done.map((p) => p.partNumber)),
    };
  }

  /**
   * POST /v2/images/{id}/uploads/{upload_id}/complete: assemble the parts, then verify. A
   * complete of an upload that is already complete (a retry, or a concurrent complete that got
   * there first) answers 202 too, and makes sure its verification runs.
   */
  async completeUpload(caller: Caller, id: string, uploadId: string, body: unknown): Promise<void> {
    const image = await this.access.authorize('upload_image', caller, id);
    if (completedBy(image, uploadId)) return this.verifyCompleted(image);
    const session = openSession(image, uploadId);
    const blobs = this.landedIn(image);
    if (!(await this.assemble(blobs, session, body))) {
      // The store no longer knows the upload. If its object exists, the upload was completed:
      // by a concurrent complete (which will also record it), or by an earlier attempt of this
      // very request that stopped before recording it (a timeout, a crash); recording it again is safe.
      const current = await this.access.authorize('upload_image', caller, id);
      if (completedBy(current, uploadId)) return this.verifyCompleted(current);
      if (!(await blobs.exists(session.key))) throw conflict(`Upload ${session.upload_id} was aborted.`);
    }
    // Staged data waits for POST /import; its size is what was declared until verified.
    const completed = session.stage
      ? this.bump({ ...image, size: session.size, location: session.key, upload: null })
      : this.bump({ ...image, location: session.key, upload: { ...session, state: 'completing' } });
    try {
      await this.repo.save(completed, image);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      // A concurrent complete of the same upload recorded it first: this one succeeded too.
      if (error.current && completedBy(error.current, uploadId)) return this.verifyCompleted(error.current);
      throw lostRace(id, error.current);
    }
    await this.verifyCompleted(completed);
  }

  /** DELETE /v2/images/{id}/uploads/{upload_id}: abort at the store first, then queue the image again. */
  async abortUpload(caller: Caller, id: string, uploadId: string): Promise<void> {
    const image = await this.access.authorize('upload_image', caller, id);
    const session = openSession(image, uploadId);
    if (session.state === 'completing') throw conflict(`Upload ${uploadId} is already complete and being verified; it cannot be aborted.`);
    // Store first: once the image says queued, no part URL of the session may still work. A
    // failure here changes nothing, and aborting again is idempotent, so the client retries.
    try {
      await this.landedIn(image).abortMultipartUpload(session.key, session.store_upload_id);
    } catch (error) {
      throw serviceUnavailable(`The object store did not abort upload ${uploadId} (${errorName(error)}); nothing was changed: retry the abort.`);
    }
    await this.save(this.bump({ ...image, status: 'queued', size: null, upload: null, location: null, stores: [] }), image);
  }

  /**
   * PUT /v2/images/{id}/file: a small body through the API, verified before answering. A request
   * that fails after its saving write rolls it back; one that died there (a crash, a timeout)
   * leaves the image saving with no session, and the client's retry takes it over. The verifier
   * is this operation's alone (no other use case here reads the bytes), so it is passed in: the
   * other data functions then bundle no format inspector.
   */
  async putFile(verifier: ImageVerifier, caller: Caller, id: string, body: Buffer, declaredSize: string | undefined, storeHeader?: string): Promise<void> {
    checkDeclaredSize(body, declaredSize);
    const image = await this.access.authorize('upload_image', caller, id);
    if (!isUnfinishedPutFile(image)) checkReadyForData(image, 'saving');
    const store = this.stores.catalog.landingStore(storeHeader);
    const blobs = this.stores.in(store);
    const key = objectKey(id, this.newId());
    // The size is known: it counts toward the quota while the bytes are verified (shared/domain/quota.ts).
    const saving = this.bump({ ...image, status: 'saving', size: body.length, location: key, stores: this.stores.catalog.recorded(store), failure: null });
    await this.save(saving, image);
    // The unfinished attempt's bytes, if it stored any (should it still be running, its
    // verification now finds the image moved on and removes its own bytes).
    if (image.status === 'saving' && image.location) await this.landedIn(image).deleteObject(image.location).catch(() => undefined);
    let outcome: VerificationOutcome;
    try {
      await blobs.putObject(key, body);
      outcome = await verifier.verify({ image_id: id, key });
    } catch (error) {
      await this.rollBackPutFile(saving, `PUT /file did not finish (${errorName(error)})`);
      throw serviceUnavailable(`The image data could not be stored and verified (${errorName(error)}); nothing was kept: retry the upload.`);
    }
    if (outcome.result === 'refused') throw badRequest(`Image data was refused: ${outcome.reason}`);
    if (outcome.result === 'skipped') {
      // Another writer moved the image on while this request verified: a concurrent upload
      // (which took the image over) or a delete. Its own bytes are no longer the image's.
      const current = await this.repo.get(id);
      if (current?.location === key && (current.status === 'active' || current.status === 'deactivated')) return;
      if (current?.location !== key && current?.upload?.key !== key) await blobs.deleteObject(key).catch(() => undefined);
      throw lostRace(id, current);
    }
  }

  /** Best effort: removes the failed attempt's bytes and queues the image again with the reason. */
  private async rollBackPutFile(saving: Image, reason: string): Promise<void> {
    try {
      if (saving.location) await this.landedIn(saving).deleteObject(saving.location);
      await saveUnlessMoved(this.repo, this.bump(queuedWithoutData(saving, reason)), saving);
    } catch {
      // The store or the table failed too: the image stays saving, and a retry takes it over.
    }
  }

  /** PUT /v2/images/{id}/stage: Glance's interoperable import, step one. */
  async stageFile(caller: Caller, id: string, body: Buffer, declaredSize: string | undefined): Promise<void> {
    checkDeclaredSize(body, declaredSize);
    const image = await this.access.authorize('modify_image', caller, id);
    checkReadyForData(image, 'uploading');
    // Staged data waits in the default store (Glance's staging area); the import lands it.
    const store = this.stores.catalog.defaultStore;
    const blobs = this.stores.in(store);
    const key = objectKey(id, this.newId());
    await blobs.putObject(key, body);
    try {
      await this.save(this.bump({ ...image, status: 'uploading', size: body.length, location: key, stores: this.stores.catalog.recorded(store), failure: null }), image);
    } catch (error) {
      await blobs.deleteObject(key);
      throw error;
    }
  }

  /** GET /v2/images/{id}/file: a redirect to the bytes, or 204 when there are none. */
  async download(caller: Caller, id: string): Promise<DownloadAnswer> {
    // Glance: a deactivated image's data is refused to all but admins before download_image is asked.
    const found = await this.access.find(caller, id);
    if (!this.access.sees(caller, found)) throw imageNotFound(id);
    if (found.image.status === 'deactivated' && !this.access.policy.isAdmin(caller)) {
      throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    }
    const image = enforceOnImage(this.access.policy, 'download_image', caller, found, `No image found with ID ${id}`);
    const store = this.stores.catalog.downloadStore(image);
    if ((image.status !== 'active' && image.status !== 'deactivated') || !image.location || !store) return { kind: 'no-data' };
    const url = await this.stores.in(store).presignDownload(image.location, {
      filename: `${image.id}.${image.disk_format ?? 'img'}`,
      expiresInSeconds: this.settings.downloadUrlSeconds,
    });
    return { kind: 'redirect', url };
  }

  /** A completed upload's verification runs (idempotent); staged data waits for its import. */
  private async verifyCompleted(image: Image): Promise<void> {
    if (image.status === 'saving' && image.location) await this.startVerification({ image_id: image.id, key: image.location }, 'complete');
  }

  private startVerification(request: VerificationRequest, retry: 'complete' | 'import'): Promise<void> {
    return startVerification(this.workflows, request, retry);
  }

  /**
   * Completes the multipart upload from the parts the client names (or, with no body, every part
   * the store holds). False when the store no longer knows the upload: it was completed or aborted.
   */
  private async assemble(blobs: BlobStore, session: UploadSession, body: unknown): Promise<boolean> {
    let parts: Array<{ partNumber: number; etag: string }>;
    if (body === undefined || body === null || isEmptyObject(body)) {
      try {
        parts = await blobs.listParts(session.key, session.store_upload_id);
      } catch (error) {
        if (error instanceof UploadGoneError) return false;
        throw error;
      }
    } else {
      parts = parseParts(body);
    }
    const missing = missingParts(planOf(session), parts.map((p) => p.partNumber));
    if (missing.length > 0) throw badRequest(`Upload ${session.upload_id} is missing parts ${missing.join(', ')} of ${session.part_count}`);
    const extra = parts.filter((p) => p.partNumber > session.part_count);
    if (extra.length > 0) throw badRequest(`Upload ${session.upload_id} has only ${session.part_count} parts, not part ${extra[0]!.partNumber}`);
    try {
      await blobs.completeMultipartUpload(session.key, session.store_upload_id, [...parts].sort((a, b) => a.partNumber - b.partNumber));
    } catch (error) {
      if (error instanceof PartsRefusedError) throw badRequest(`The object store refused the parts: ${error.reason}`);
      if (error instanceof UploadGoneError) return false;
      // The upload is still open (or was completed and the answer lost: the retry finds its
      // object). Nothing was written, and a complete is idempotent, so the client retries.
      throw serviceUnavailable(`The object store did not complete upload ${session.upload_id} (${errorName(error)}); nothing was changed: retry the complete.`);
    }
    return true;
  }

  private async storedParts(blobs: BlobStore, session: UploadSession) {
    try {
      return await blobs.listParts(session.key, session.store_upload_id);
    } catch (error) {
      if (error instanceof UploadGoneError) throw conflict(`Upload ${session.upload_id} is no longer open at the object store.`);
      throw error;
    }
  }

  private async partUrls(blobs: BlobStore, session: UploadSession, plan: UploadPlan, done: number[]) {
    const have = new Set(done);
    const parts = [];
    for (let n = 1; n <= plan.partCount && parts.length < LISTED_PARTS; n++) {
      if (have.has(n)) continue;
      const part = plannedPart(plan, n);
      const url = await blobs.presignUploadPart(session.key, session.store_upload_id, n, part.length, this.settings.partUrlSeconds);
      parts.push({ ...part, url });
    }
    return parts;
  }

  /** Where the image's unverified bytes (its upload, staged or saved data) are: its first store. */
  private landedIn(image: Image): BlobStore {
    const store = this.stores.catalog.storesOf(image)[0];
    if (!store) throw serviceUnavailable(`Image ${image.id}'s data is in a store this deployment no longer has (${(image.stores ?? []).join(', ')}).`);
    return this.stores.in(store);
  }

  private bump(image: Image): Image {
    return nextVersion(image, this.clock());
  }

  private save(next: Image, previous: Image): Promise<void> {
    return saveOrConflict(this.repo, next, previous);
  }
}

/**
 * Starts verification after the write that asked for it. If Step Functions fails, the write
 * stands (the image is saving or importing) and the client's retry of the same request starts
 * it; without a retry the sweeper re-drives it.
 */
export async function startVerification(workflows: Workflows, request: VerificationRequest, retry: 'complete' | 'import'): Promise<void> {
  try {
    await workflows.startVerification(request);
  } catch (error) {
    throw serviceUnavailable(`The data is in place but its verification could not be started (${errorName(error)}): retry the ${retry}.`);
  }
}

export function objectKey(imageId: string, uniqueId: string): string {
  return `images/${imageId}/${uniqueId}`;
}

/**
 * The image a web-download fetch starts from: importing, a fresh object key for the fetcher to
 * write, the URI, and the default store it lands in. Both ways in (POST /import web-download and
 * the legacy `import` task) build it here, and start its workflow with startWebDownload, so they
 * cannot drift apart.
 */
export function webDownloadImporting(image: Image, uri: string, stores: StoreCatalog, newId: () => string, now: Date): Image {
  const location = objectKey(image.id, newId());
  // The whole-fetch limit counts from now, over every fetcher run (shared/app/web-fetch.ts).
  return { ...image, status: 'importing', location, import_source: uri, import_fetch: { started_at: now.toISOString() }, stores: stores.recorded(stores.defaultStore), failure: null };
}

/** Starts the workflow that fetches a webDownloadImporting image's URI into its key, then verifies it. */
export function startWebDownload(workflows: Workflows, image: Image): Promise<void> {
  if (!image.location || !image.import_source) throw new Error(`image ${image.id} is not a web-download in progress`);
  return startVerification(workflows, { image_id: image.id, key: image.location, uri: image.import_source }, 'import');
}

/** Glance's rules before data may arrive: queued, and both formats set. */
export function checkReadyForData(image: Image, target: ImageStatus): void {
  if (image.status !== 'queued') throw conflict(transitionRefusedMessage(image.status, target));
  if (!image.disk_format || !image.container_format) {
    throw badRequest('Properties disk_format, container_format must be set prior to saving data.');
  }
}

function checkDeclaredSize(body: Buffer, declared: string | undefined): void {
  if (declared === undefined) return;
  if (!/^\d+$/.test(declared.trim()) || Number(declared) !== body.length) {
    throw badRequest(`x-openstack-image-size ${declared} does not match the ${body.length} bytes sent`);
  }
}

/** A PUT /file that did not finish (its request failed before rolling back, or died): saving, with no upload session. */
export function isUnfinishedPutFile(image: Image): boolean {
  return image.status === 'saving' && image.upload === null;
}

/**
 * Whether this upload's bytes are assembled and recorded on the image: its session is being
 * verified, or its object is the image's (staged, importing, or verified and active).
 */
function completedBy(image: Image, uploadId: string): boolean {
  if (image.location !== objectKey(image.id, uploadId)) return false;
  return image.upload === null || (image.upload.upload_id === uploadId && image.upload.state === 'completing');
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown error';
}

function openSession(image: Image, uploadId: string): UploadSession {
  if (!image.upload || image.upload.upload_id !== uploadId) throw notFound(`Upload ${uploadId} not found for image ${image.id}`);
  return image.upload;
}

function planOf(session: UploadSession): UploadPlan {
  return { size: session.size, partSize: session.part_size, partCount: session.part_count };
}

function sessionView(imageId: string, session: UploadSession) {
  return {
    upload_id: session.upload_id,
    image_id: imageId,
    size: session.size,
    part_size: session.part_size,
    part_count: session.part_count,
    stage: session.stage,
    expires_at: session.expires_at,
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmptyObject(value: unknown): boolean {
  return isObject(value) && Object.keys(value).length === 0;
}

function parseUploadRequest(body: unknown) {
  if (!isObject(body)) throw badRequest('The upload request must be a JSON object with a "size".');
  const unknown = Object.keys(body).filter((k) => !UPLOAD_FIELDS.has(k));
  if (unknown.length > 0) throw badRequest(`Unknown upload field(s): ${unknown.join(', ')}`);
  if (body.size === undefined) throw badRequest("'size' is required: the image's size in bytes");
  if (body.stage !== undefined && typeof body.stage !== 'boolean') throw badRequest("'stage' must be true or false");
  for (const [field, pattern] of [['checksum', HEX32], ['os_hash_value', HEX128]] as const) {
    const value = body[field];
    if (value !== undefined && value !== null && (typeof value !== 'string' || !pattern.test(value))) {
      throw badRequest(`'${field}' must be a lower-case hex digest (${field === 'checksum' ? 'MD5' : 'SHA-512'})`);
    }
  }
  return {
    size: body.size,
    part_size: body.part_size,
    stage: body.stage === true,
    checksum: (body.checksum as string | undefined) ?? null,
    os_hash_value: (body.os_hash_value as string | undefined) ?? null,
  };
}

function parseParts(body: unknown): Array<{ partNumber: number; etag: string }> {
  const list = isObject(body) ? body.parts : undefined;
  if (!Array.isArray(list)) throw badRequest('"parts" must be a list of {"part_number", "etag"}');
  const seen = new Set<number>();
  return list.map((entry) => {
    if (!isObject(entry) || !Number.isSafeInteger(entry.part_number) || (entry.part_number as number) < 1 || typeof entry.etag !== 'string' || !entry.etag) {
      throw badRequest('Each part must be {"part_number": <1..10000>, "etag": "<ETag the store returned>"}');
    }
    const partNumber = entry.part_number as number;
    if (seen.has(partNumber)) throw badRequest(`Part ${partNumber} is listed twice`);
    seen.add(partNumber);
    return { partNumber, etag: entry.etag };
  });
}
