import { importFilterFrom } from '../domain/web-download.js';
import { storeCatalog } from './config.js';
import { propertyProtections } from './property-protection-config.js';
import { authorizedImages, imageRepository, taskRepository } from './read-services.js';
import { imageWorkflows } from './services.js';
import { TaskCreation } from './task-creation.js';

let creation: TaskCreation | undefined;

/**
 * POST /v2/tasks: a legacy import makes an image and starts the verifier workflow's fetch. Its
 * own module, apart from data-services.ts, so the create-task function carries no S3 client.
 */
export function taskCreation(): TaskCreation {
  return (creation ??= new TaskCreation(taskRepository(), imageRepository(), authorizedImages(), propertyProtections(), storeCatalog(), imageWorkflows(), importFilterFrom(process.env)));
}
