import { S3Client } from '@aws-sdk/client-s3';
import { attachAwsCallLog } from '../adapters/aws-call-log.js';
import { attachFaultInjection } from '../adapters/fault-injection.js';
import { S3_CLIENT_DEFAULTS, S3BlobStore } from '../adapters/s3-blob-store.js';
import { limitsFor } from '../domain/quota.js';
import { importFilterFrom } from '../domain/web-download.js';
import type { StoreDefinition } from '../domain/stores.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import { config, copySettings, dataConfig, storeCatalog } from './config.js';
import { ImageCopier } from './copy-image.js';
import { ImageDataService } from './image-data.js';
import { Scrubber } from './scrubber.js';
import { Sweepers } from './sweepers.js';
import { authorizedImages, imageRepository, usageRepository } from './read-services.js';
import { imageEvents } from './event-services.js';
import { imageWorkflows } from './services.js';
import { ImageVerifier } from './verify-image.js';
import { StreamedDataService } from './streamed-data.js';
import { StoreCopies } from './store-copies.js';
import { ImageImports } from './image-imports.js';

let blobs: StoreBlobs | undefined;
let verifier: ImageVerifier | undefined;
let copier: ImageCopier | undefined;
let data: ImageDataService | undefined;
let scrubber: Scrubber | undefined;
let sweepers: Sweepers | undefined;
let streamed: StreamedDataService | undefined;
let copies: StoreCopies | undefined;
let imports: ImageImports | undefined;

/** Parts of a streamed body uploading at once: 4 × 8 MiB keeps the front's memory near 40 MiB per upload. */
const STREAMED_PARTS_IN_FLIGHT = 4;

/** One S3 client per region (a store's bucket is addressed in its own region), one blob store per store. */
export function blobStore(): StoreBlobs {
  if (!blobs) {
    const { s3Endpoint } = dataConfig();
    const clients = new Map<string, S3Client>();
    const perStore = new Map<string, S3BlobStore>();
    const clientFor = (region: string) => {
      let s3 = clients.get(region);
      if (!s3) {
        s3 = new S3Client({ region, ...S3_CLIENT_DEFAULTS, ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}) });
        // Resilience tests only: the local runtime sets it, deployed functions never do.
        if (process.env.SKYGLASS_FAULTS_FILE) attachFaultInjection(s3, process.env.SKYGLASS_FAULTS_FILE);
        // Tests only: every call recorded for the check against the stack's IAM (test/iam).
        if (process.env.SKYGLASS_AWS_CALL_LOG) attachAwsCallLog(s3, 's3', process.env.SKYGLASS_AWS_CALL_LOG);
        clients.set(region, s3);
      }
      return s3;
    };
    const catalog = storeCatalog();
    blobs = {
      catalog,
      in(store: StoreDefinition) {
        let found = perStore.get(store.id);
        if (!found) perStore.set(store.id, (found = new S3BlobStore(clientFor(store.region), store.bucket)));
        return found;
      },
    };
  }
  return blobs;
}

/** Reads an image's bytes once and activates or refuses it. */
export function imageVerifier(): ImageVerifier {
  return (verifier ??= new ImageVerifier(imageRepository(), blobStore(), copySettings()));
}

/** Copies an active image to the stores its copy-image import names. */
export function imageCopier(): ImageCopier {
  return (copier ??= new ImageCopier(imageRepository(), blobStore(), copySettings()));
}

/** The scrubber's steps. */
export function imageScrubber(): Scrubber {
  return (scrubber ??= new Scrubber(imageRepository(), blobStore(), imageEvents()));
}

/** The periodic housekeeping jobs. */
export function imageSweepers(): Sweepers {
  const { sweepStuckSeconds, orphanGraceSeconds } = dataConfig();
  return (sweepers ??= new Sweepers(imageRepository(), usageRepository(), blobStore(), imageWorkflows(), { stuckSeconds: sweepStuckSeconds, orphanGraceSeconds }));
}

/** The image data use cases: uploads, staging, import, download. */
export function imageDataService(): ImageDataService {
  return (data ??= new ImageDataService(imageRepository(), authorizedImages(), blobStore(), imageWorkflows(), dataConfig()));
}

/** POST /v2/images/{id}/import (glance-direct, web-download, copy-image). */
export function imageImports(): ImageImports {
  return (imports ??= new ImageImports(imageRepository(), authorizedImages(), blobStore(), imageWorkflows(), importFilterFrom(process.env)));
}

/** PUT /file and PUT /stage with bodies of any size, streamed (the data front). */
export function streamedDataService(): StreamedDataService {
  const { quotas } = config();
  return (streamed ??= new StreamedDataService(
    imageRepository(),
    authorizedImages(),
    blobStore(),
    { partsInFlight: STREAMED_PARTS_IN_FLIGHT },
    quotas ? { usage: usageRepository(), limits: (project) => limitsFor(quotas, project) } : undefined,
  ));
}

/** An image's copies in the stores (DELETE /v2/stores/{store_id}/{image_id}). */
export function storeCopies(): StoreCopies {
  return (copies ??= new StoreCopies(imageRepository(), authorizedImages(), blobStore()));
}
