import { createHash, randomBytes } from 'node:crypto';
import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type ListExecutionsCommandOutput,
} from '@aws-sdk/client-sfn';
import type { ScrubRequest, ScrubStart, VerificationRequest, Workflows } from '../ports/workflows.js';

export interface StateMachineArns {
  verifier: string;
  scrubber: string;
}

/**
 * Step Functions executions. Execution names (at most 80 characters of [A-Za-z0-9-_]) derive
 * from the request, so a retry starts nothing new; Step Functions keeps a closed execution's
 * name for 90 days, so a re-drive takes a new, unique name. Every name holds the image id.
 */
export class SfnWorkflows implements Workflows {
  constructor(
    private readonly sfn: SFNClient,
    private readonly arns: StateMachineArns,
  ) {}

  async startVerification(request: VerificationRequest): Promise<void> {
    await this.start(this.arns.verifier, verificationExecutionName(request), request);
  }

  async redriveVerification(request: VerificationRequest): Promise<void> {
    await this.start(this.arns.verifier, `re${verificationExecutionName(request)}-${uniqueSuffix()}`, request);
  }

  async startScrub(request: ScrubRequest, start: ScrubStart): Promise<void> {
    if (start === 'redrive') {
      await this.start(this.arns.scrubber, `${scrubExecutionName(request.image_id, request.version, 'redrive')}-${uniqueSuffix()}`, request);
      return;
    }
    const started = await this.start(this.arns.scrubber, scrubExecutionName(request.image_id, request.version, start), request);
    // An admin asking again after a scrub-now ended (it failed: the bytes could not be deleted) gets a new one.
    if (!started && start === 'now') {
      await this.start(this.arns.scrubber, `${scrubExecutionName(request.image_id, request.version, 'now')}-${uniqueSuffix()}`, request);
    }
  }

  async stopScrubs(imageId: string, version: number): Promise<void> {
    // Re-drives and repeated scrub-nows start only for a claimed image, which is never restored.
    for (const start of ['delayed', 'now'] as const) {
      const executionArn = `${executionPrefix(this.arns.scrubber)}:${scrubExecutionName(imageId, version, start)}`;
      try {
        await this.sfn.send(new StopExecutionCommand({ executionArn, cause: 'image restored' }));
      } catch (error) {
        // Never started or already finished: nothing to stop (a late one cannot claim a restored image).
        if (!(error instanceof ExecutionDoesNotExist)) throw error;
      }
    }
  }

  runningScrubs(): Promise<Set<string>> {
    return this.runningImages(this.arns.scrubber);
  }

  runningVerifications(): Promise<Set<string>> {
    return this.runningImages(this.arns.verifier);
  }

  private async runningImages(stateMachineArn: string): Promise<Set<string>> {
    const images = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page: ListExecutionsCommandOutput = await this.sfn.send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 1000, nextToken }),
      );
      for (const execution of page.executions ?? []) {
        const id = IMAGE_ID.exec(execution.name ?? '')?.[0];
        if (id) images.add(id.toLowerCase());
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return images;
  }

  /** False when the name is taken by an execution that has ended (or runs with another input). */
  private async start(stateMachineArn: string, name: string, input: object): Promise<boolean> {
    try {
      await this.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      return true;
    } catch (error) {
      // Same name and input while it runs is the same execution (no error); this is a closed one.
      if (error instanceof ExecutionAlreadyExists) return false;
      throw error;
    }
  }
}

const IMAGE_ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** `verify-<id>-<key hash>`; a copy-image import's `copy-<id>-<task hash>` (one image's bytes are copied by each of its imports). */
function verificationExecutionName(request: VerificationRequest): string {
  if (request.copy) return `copy-${request.image_id}-${createHash('sha256').update(request.copy).digest('hex').slice(0, 16)}`;
  return `verify-${request.image_id}-${createHash('sha256').update(request.key).digest('hex').slice(0, 16)}`;
}

/** `scrub-<id>-<version>` (DELETE's), `scrubnow-…` (an admin's), `rescrub-…` (a re-drive, plus a unique suffix). */
export function scrubExecutionName(imageId: string, version: number, start: ScrubStart): string {
  const prefix = { delayed: 'scrub', now: 'scrubnow', redrive: 'rescrub' }[start];
  return `${prefix}-${imageId}-${version}`;
}

function executionPrefix(stateMachineArn: string): string {
  return stateMachineArn.replace(':stateMachine:', ':execution:');
}

/** Time-ordered and unique enough for names that must never repeat. */
function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}
