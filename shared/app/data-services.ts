import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { S3_CLIENT_DEFAULTS, S3BlobStore } from '../adapters/s3-blob-store.js';
import { SfnWorkflows } from '../adapters/sfn-workflows.js';
import { config, dataConfig } from './config.js';
import { ImageDataService } from './image-data.js';
import { imageRepository } from './services.js';
import { ImageVerifier } from './verify-image.js';

let blobs: S3BlobStore | undefined;
let verifier: ImageVerifier | undefined;
let data: ImageDataService | undefined;

function blobStore(): S3BlobStore {
  if (!blobs) {
    const { bucketName, s3Endpoint } = dataConfig();
    const s3 = new S3Client({
      region: config().region,
      ...S3_CLIENT_DEFAULTS,
      ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}),
    });
    blobs = new S3BlobStore(s3, bucketName);
  }
  return blobs;
}

/** Reads an image's bytes once and activates or refuses it. */
export function imageVerifier(): ImageVerifier {
  return (verifier ??= new ImageVerifier(imageRepository(), blobStore()));
}

/** The image data use cases: uploads, staging, import, download. */
export function imageDataService(): ImageDataService {
  if (!data) {
    const settings = dataConfig();
    const sfn = new SFNClient({ region: config().region, ...(settings.sfnEndpoint ? { endpoint: settings.sfnEndpoint } : {}) });
    data = new ImageDataService(imageRepository(), blobStore(), new SfnWorkflows(sfn, settings.verifierArn), imageVerifier(), settings);
  }
  return data;
}
