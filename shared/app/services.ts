import { SFNClient } from '@aws-sdk/client-sfn';
import { attachFaultInjection } from '../adapters/fault-injection.js';
import { attachAwsCallLog } from '../adapters/aws-call-log.js';
import { SfnWorkflows } from '../adapters/sfn-workflows.js';
import type { Workflows } from '../ports/workflows.js';
import { config } from './config.js';
import { ImageRemoval } from './image-removal.js';
import { ImageService } from './images.js';
import { propertyProtections } from './property-protection-config.js';
import { authorizedImages, imageRepository } from './read-services.js';

// Built on first use and kept for the life of the (Lambda) process. esbuild keeps only what a
// handler reaches: functions that change metadata (ImageService) carry the DynamoDB client
// alone, those that delete or restore (ImageRemoval) also Step Functions', and none carries
// EventBridge (the outbox relay publishes) or S3.
let workflows: Workflows | undefined;
let images: ImageService | undefined;
let removal: ImageRemoval | undefined;

export function imageWorkflows(): Workflows {
  if (!workflows) {
    const { region, sfnEndpoint, verifierArn, scrubberArn } = config();
    const sfn = new SFNClient({ region, ...(sfnEndpoint ? { endpoint: sfnEndpoint } : {}) });
    // Resilience tests only: the local runtime sets it, deployed functions never do.
    if (process.env.SKYGLASS_FAULTS_FILE) attachFaultInjection(sfn, process.env.SKYGLASS_FAULTS_FILE);
    // Tests only: every call recorded for the check against the stack's IAM (test/iam).
    if (process.env.SKYGLASS_AWS_CALL_LOG) attachAwsCallLog(sfn, 'states', process.env.SKYGLASS_AWS_CALL_LOG);
    workflows = new SfnWorkflows(sfn, { verifier: verifierArn, scrubber: scrubberArn });
  }
  return workflows;
}

/** Create, update, tag, deactivate and reactivate images. */
export function imageService(): ImageService {
  return (images ??= new ImageService(imageRepository(), authorizedImages(), propertyProtections()));
}

/** Delete, restore and scrub-now: the use cases that drive the scrubber. */
export function imageRemoval(): ImageRemoval {
  const { delayedDelete, scrubDelaySeconds } = config();
  return (removal ??= new ImageRemoval(imageRepository(), authorizedImages(), imageWorkflows(), { delayedDelete, scrubDelaySeconds }));
}
