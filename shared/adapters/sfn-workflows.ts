import { createHash } from 'node:crypto';
import { ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { ScrubRequest, VerificationRequest, Workflows } from '../ports/workflows.js';

export interface StateMachineArns {
  verifier: string;
  scrubber: string;
}

/** Step Functions executions. Execution names derive from the request, so a retry starts nothing new. */
export class SfnWorkflows implements Workflows {
  constructor(
    private readonly sfn: SFNClient,
    private readonly arns: StateMachineArns,
  ) {}

  startVerification(request: VerificationRequest): Promise<void> {
    // Execution names: at most 80 characters of [A-Za-z0-9-_].
    const name = `verify-${request.image_id}-${createHash('sha256').update(request.key).digest('hex').slice(0, 16)}`;
    return this.start(this.arns.verifier, name, request);
  }

  startScrub(request: ScrubRequest, now = false): Promise<void> {
    return this.start(this.arns.scrubber, scrubExecutionName(request.image_id, request.version, now), request);
  }

  async stopScrub(imageId: string, version: number): Promise<void> {
    const executionArn = `${this.arns.scrubber.replace(':stateMachine:', ':execution:')}:${scrubExecutionName(imageId, version, false)}`;
    try {
      await this.sfn.send(new StopExecutionCommand({ executionArn, cause: 'image restored' }));
    } catch (error) {
      // Never started or already finished: nothing to stop (the scrubber re-checks anyway).
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
    }
  }

  private async start(stateMachineArn: string, name: string, input: object): Promise<void> {
    try {
      await this.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    } catch (error) {
      // Same name and same input: the execution is already under way (or done).
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }
}

function scrubExecutionName(imageId: string, version: number, now: boolean): string {
  return `${now ? 'scrubnow' : 'scrub'}-${imageId}-${version}`;
}
