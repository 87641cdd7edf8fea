import { createHash } from 'node:crypto';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { VerificationRequest, Workflows } from '../ports/workflows.js';

/** Step Functions executions. Execution names derive from the request, so a retry starts nothing new. */
export class SfnWorkflows implements Workflows {
  constructor(
    private readonly sfn: SFNClient,
    private readonly verifierArn: string,
  ) {}

  async startVerification(request: VerificationRequest): Promise<void> {
    // Execution names: at most 80 characters of [A-Za-z0-9-_].
    const name = `verify-${request.image_id}-${createHash('sha256').update(request.key).digest('hex').slice(0, 16)}`;
    try {
      await this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.verifierArn, name, input: JSON.stringify(request) }));
    } catch (error) {
      // Same name and same input: the execution is already under way (or done).
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }
}
