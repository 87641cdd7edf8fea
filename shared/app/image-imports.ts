import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { badRequest, conflict, GlanceError } from '../domain/errors.js';
import type { Image, ImportTargets } from '../domain/image.js';
import { IMPORT_METHODS } from '../domain/import-methods.js';
import { copyingTo, copyTargets, importingTo } from '../domain/stores.js';
import { enforceOnImage } from '../domain/image-access.js';
import { importRequestOf, importTask, taskOrigin } from '../domain/task.js';
import { DEFAULT_IMPORT_FILTER, webDownloadUri, type ImportFilter } from '../domain/web-download.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { Workflows } from '../ports/workflows.js';
import type { AuthorizedImages } from './authorized-images.js';
import { isObject, startVerification, startWebDownload, webDownloadImporting } from './image-data.js';
import { nextVersion, saveOrConflict } from './writes.js';

/**
 * POST /v2/images/{id}/import: glance-direct (staged data verified), web-download (a URI the
 * workflow fetches, then verifies) and copy-image (an active image copied to more stores). Its own use case, apart from ImageDataService, so the import
 * function carries neither the verifier nor the format inspector. Each import records its
 * `api_image_import` task in the same conditional write that makes the image importing.
 */
export class ImageImports {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly stores: StoreBlobs,
    private readonly workflows: Workflows,
    private readonly importFilter: ImportFilter = DEFAULT_IMPORT_FILTER,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  /**
   * glance-direct: an import of an image already importing (a retry after a failure or a
   * timeout) makes sure its verification runs and answers 202 again. web-download: see below.
   */
  async importImage(caller: Caller, id: string, body: unknown, storeHeader?: string, requestId: string | null = null): Promise<void> {
    const method = parseImportMethod(body);
    if (method === 'copy-image') return this.copyImage(caller, id, isObject(body) ? body : {}, storeHeader, requestId);
    // Glance's stores / all_stores / X-Image-Meta-Store (400 or 409 before anything is written).
    const targets = this.stores.catalog.importTargets(isObject(body) ? body : {}, storeHeader);
    // Glance checks a web-download's uri before the image (400 for a missing or refused one).
    const source = method === 'web-download' ? webDownloadUri(isObject(body) && isObject(body.method) ? body.method : {}, this.importFilter) : null;
    const image = await this.access.authorize('modify_image', caller, id);
    const task = () => importTask(this.newId(), image, importRequestOf(body), taskOrigin(caller, requestId), this.clock());
    if (source) return this.startWebDownload(image, source.url.href, targets, task);
    if (image.status === 'importing' && image.location) return startVerification(this.workflows, { image_id: id, key: image.location }, 'import');
    if (image.status !== 'uploading' || !image.location || image.upload) {
      throw conflict(`Image needs to be staged before '${method}' method can be used`);
    }
    // The import's task is recorded by the same write (and finished by the verifier's).
    const recorded = task();
    await saveOrConflict(this.repo, this.bump(importingTo({ ...image, status: 'importing', task_id: recorded.id }, targets)), image, [], recorded);
    await startVerification(this.workflows, { image_id: id, key: image.location }, 'import');
  }

  /**
   * web-download: one conditional write queued → importing records the URI, the key the fetcher
   * writes and the task; then the workflow fetches and verifies. No retry path: a second import
   * finds the image importing (409), as Glance answers. A crash before the workflow starts
   * leaves an importing image the sweeper re-drives (sweepers.ts, lostWorkflows).
   */
  private async startWebDownload(image: Image, uri: string, targets: ImportTargets | null, task: () => ReturnType<typeof importTask>): Promise<void> {
    if (image.status !== 'queued') throw conflict(`Image needs to be in 'queued' state to use 'web-download' method (it is ${image.status})`);
    const recorded = task();
    const importing = importingTo({ ...webDownloadImporting(image, uri, this.stores.catalog, this.newId, this.clock()), task_id: recorded.id }, targets);
    await saveOrConflict(this.repo, this.bump(importing), image, [], recorded);
    await startWebDownload(this.workflows, importing);
  }

  /**
   * copy-image, in Glance's order of checks (glance/api/v2/images.py import_image): unseen 404,
   * not active 409, the copy_image rule 403 (admin by default), an import already running 409,
   * then the stores (unknown 409, one the image is already in 400; with all_stores those are
   * skipped, and nothing left is a 202 that does nothing). One conditional write records the
   * targets (os_glance_importing_to_stores) and the task, the image staying active; then the
   * workflow copies. A crash before it starts leaves a copying image the sweeper re-drives
   * (sweepers.ts, lostWorkflows); two concurrent imports: one write wins, the other is 409.
   */
  private async copyImage(caller: Caller, id: string, body: Record<string, unknown>, storeHeader: string | undefined, requestId: string | null): Promise<void> {
    const found = await this.access.find(caller, id);
    enforceOnImage(this.access.policy, 'get_image', caller, found, `No image found with ID ${id}`);
    if (found!.image.status !== 'active') throw conflict('Only images with status active can be targeted for copying');
    const image = enforceOnImage(this.access.policy, 'copy_image', caller, found, `No image found with ID ${id}`);
    if (image.import_targets || image.task_id) throw conflict('Image has active task');
    const targets = copyTargets(this.stores.catalog, image, body, storeHeader);
    if (!targets || !image.location) return;
    const recorded = importTask(this.newId(), image, importRequestOf(body), taskOrigin(caller, requestId), this.clock());
    const held = this.stores.catalog.storesOf(image).map((s) => s.id);
    await saveOrConflict(this.repo, this.bump({ ...copyingTo(image, targets, held), task_id: recorded.id }), image, [], recorded);
    await startVerification(this.workflows, { image_id: id, key: image.location, copy: recorded.id }, 'import');
  }

  private bump(image: Image): Image {
    return nextVersion(image, this.clock());
  }
}

function parseImportMethod(body: unknown): string {
  const method = isObject(body) ? body.method : undefined;
  const name = isObject(method) ? method.name : undefined;
  if (typeof name !== 'string') throw badRequest('Import request requires a method, e.g. {"method": {"name": "glance-direct"}}.');
  if (!IMPORT_METHODS.includes(name)) throw new GlanceError(400, `Import method ${name} is not supported here; available: ${IMPORT_METHODS.join(', ')}`);
  return name;
}
