import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { runAsFunction } from '../../shared/adapters/aws-call-log.js';

/**
 * The local runtime's workers, run in the test process as their schedule or state machine
 * would run them, with the environment the runtime gives its functions (DATA_DIR/runtime.json,
 * what `npm run sweep` reads): the same table, bucket, state machines and fault rules.
 */
function useRuntimeEnvironment(): void {
  const { environment } = JSON.parse(readFileSync(join(inject('dataDir'), 'runtime.json'), 'utf8')) as { environment: Record<string, string> };
  Object.assign(process.env, environment);
}

export interface SweepInput {
  jobs?: string[];
  as_of?: string;
  image_ids?: string[];
}

export async function sweep(input: SweepInput): Promise<Record<string, any>> {
  useRuntimeEnvironment();
  const { handler } = await import('../../functions/workers/sweep.js');
  // As the sweep function's invocation, so its calls are checked against its IAM (test/iam).
  return runAsFunction('sweep', () => handler(input as never)) as Promise<Record<string, any>>;
}

export async function scrubStep(input: { action: string; image_id: string; version: number }): Promise<unknown> {
  useRuntimeEnvironment();
  const { handler } = await import('../../functions/workers/scrub-image.js');
  return runAsFunction('scrubImage', () => handler(input as never));
}

function runtimeEnvironment(): Record<string, string> {
  useRuntimeEnvironment();
  return process.env as Record<string, string>;
}

/** The local Step Functions endpoint, as a client behind the API sees it. */
async function stepFunctions() {
  const { SFNClient } = await import('@aws-sdk/client-sfn');
  const env = runtimeEnvironment();
  return {
    client: new SFNClient({ endpoint: env.SFN_ENDPOINT, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    scrubber: env.SCRUBBER_STATE_MACHINE_ARN!,
    verifier: env.VERIFIER_STATE_MACHINE_ARN!,
  };
}

/** The status of one scrubber execution, by name ('none' if there is no such execution). */
export async function scrubExecutionStatus(name: string): Promise<string> {
  const { DescribeExecutionCommand, ExecutionDoesNotExist } = await import('@aws-sdk/client-sfn');
  const sfn = await stepFunctions();
  try {
    const out = await sfn.client.send(new DescribeExecutionCommand({ executionArn: `${sfn.scrubber.replace(':stateMachine:', ':execution:')}:${name}` }));
    return out.status ?? 'unknown';
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return 'none';
    throw error;
  } finally {
    sfn.client.destroy();
  }
}

/** Starts a scrubber execution directly, as a workflow under way would have been started. */
export async function startScrubExecution(name: string, input: object): Promise<void> {
  const { StartExecutionCommand } = await import('@aws-sdk/client-sfn');
  const sfn = await stepFunctions();
  try {
    await sfn.client.send(new StartExecutionCommand({ stateMachineArn: sfn.scrubber, name, input: JSON.stringify(input) }));
  } finally {
    sfn.client.destroy();
  }
}
