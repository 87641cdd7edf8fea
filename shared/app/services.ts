import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnWorkflows } from '../adapters/sfn-workflows.js';
import type { Workflows } from '../ports/workflows.js';
import { config } from './config.js';
import { ImageService } from './images.js';
import { imageRepository } from './read-services.js';

// Built on first use and kept for the life of the (Lambda) process. Functions that change
// images but never touch their bytes import this module, so their bundles carry no S3 client;
// they publish no events themselves (the outbox relay does), so none carries EventBridge.
let workflows: Workflows | undefined;
let images: ImageService | undefined;

export function imageWorkflows(): Workflows {
  if (!workflows) {
    const { region, sfnEndpoint, verifierArn, scrubberArn } = config();
    const sfn = new SFNClient({ region, ...(sfnEndpoint ? { endpoint: sfnEndpoint } : {}) });
    workflows = new SfnWorkflows(sfn, { verifier: verifierArn, scrubber: scrubberArn });
  }
  return workflows;
}

/** The image metadata use cases. */
export function imageService(): ImageService {
  const { delayedDelete, scrubDelaySeconds } = config();
  return (images ??= new ImageService(imageRepository(), imageWorkflows(), { delayedDelete, scrubDelaySeconds }));
}
