import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { buildNewImage } from '../domain/create-image.js';
import { badRequest, forbidden, GlanceError } from '../domain/errors.js';
import type { PropertyProtections } from '../domain/property-protections.js';
import {
  legacyImportProblem, legacyImportTask, parseTaskRequest, refusedTask, taskOrigin, taskView, type Task, type TaskRequest,
} from '../domain/task.js';
import { checkUri, DEFAULT_IMPORT_FILTER, UriRefusedError, type ImportFilter } from '../domain/web-download.js';
import type { StoreCatalog } from '../domain/stores.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { TaskRepository } from '../ports/task-repository.js';
import type { Workflows } from '../ports/workflows.js';
import type { AuthorizedImages } from './authorized-images.js';
import { startWebDownload, webDownloadImporting } from './image-data.js';
import { enforceTaskRule } from './tasks.js';

/**
 * POST /v2/tasks. A legacy `import` task runs as Glance's base_import flow does: it makes an
 * image from `input.image_properties` (the caller's, as Glance's image factory makes it), fetches
 * `input.import_from` into it and verifies it, with the web-download machinery
 * (shared/app/image-imports.ts). One write creates the image already importing, the URI and
 * object key recorded, with the task, in one transaction; then the verifier workflow starts. A
 * crash between the two leaves an importing image the sweeper re-drives (sweepers.ts,
 * lostWorkflows), as for web-download. The verifier's settling write finishes the task:
 * success with `result: {image_id}`, or failure with the reason, the image left queued.
 */
export class TaskCreation {
  constructor(
    private readonly tasks: TaskRepository,
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly protections: PropertyProtections,
    private readonly stores: StoreCatalog,
    private readonly workflows: Workflows,
    private readonly importFilter: ImportFilter = DEFAULT_IMPORT_FILTER,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(caller: Caller, body: unknown, requestId: string | null): Promise<Record<string, unknown>> {
    enforceTaskRule(this.access.policy, 'add_task', caller);
    const request = parseTaskRequest(body);
    const origin = taskOrigin(caller, requestId);
    const problem = request.type === 'import' ? legacyImportProblem(request.input) : 'not an import';
    if (problem !== undefined) return this.recordRefused(request, origin, request.type === 'import' ? problem : undefined);
    const uri = String(request.input.import_from);
    try {
      checkUri(uri, this.importFilter);
    } catch (error) {
      // Glance checks the legacy URI against its import filter before recording anything.
      if (error instanceof UriRefusedError) throw badRequest(`URI for legacy import task does not pass filtering: ${uri}`);
      throw error;
    }
    let image;
    try {
      image = buildNewImage(request.input.image_properties, caller, this.access.policy, this.clock(), this.newId);
      const refused = this.protections.refusedChange(caller, {}, image.properties);
      if (refused !== undefined) throw forbidden(`Attribute '${refused}' is reserved.`);
    } catch (error) {
      // Glance's flow makes the image after the 201: properties it refuses fail the task.
      if (error instanceof GlanceError) return this.recordRefused(request, origin, error.message);
      throw error;
    }
    const task = legacyImportTask(this.newId(), request, image.id, origin, this.clock());
    const importing = webDownloadImporting(image, uri, this.stores, this.newId, this.clock());
    await this.repo.create(importing, ['image.create'], task);
    await startWebDownload(this.workflows, importing);
    return taskView(task);
  }

  private async recordRefused(request: TaskRequest, origin: ReturnType<typeof taskOrigin>, reason?: string): Promise<Record<string, unknown>> {
    const task: Task = refusedTask(this.newId(), request, origin, this.clock(), reason);
    await this.tasks.create(task);
    return taskView(task);
  }
}
