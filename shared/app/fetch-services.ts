import { fetchLimitsFrom, importFilterFrom } from '../domain/web-download.js';
import { blobStore } from './data-services.js';
import { imageRepository, taskRepository } from './read-services.js';
import { WebFetcher } from './web-fetch.js';

let fetcher: WebFetcher | undefined;

/** The web-download workflow's fetch step (its own module: the route bundles stay without it). */
export function webFetcher(): WebFetcher {
  return (fetcher ??= new WebFetcher(imageRepository(), blobStore(), importFilterFrom(process.env), fetchLimitsFrom(process.env), taskRepository()));
}
