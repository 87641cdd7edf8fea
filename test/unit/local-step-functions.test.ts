import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStepFunctions, type LocalStepFunctions } from '../../infra/local/step-functions.js';

/**
 * The local Step Functions endpoint answers the calls the functions make as AWS does, through
 * the real @aws-sdk/client-sfn: what the sweeper's re-drive relies on.
 */
const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:test-waiter';
let local: LocalStepFunctions;
let sfn: SFNClient;
let release: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (release = resolve));

beforeAll(async () => {
  local = await startLocalStepFunctions([
    {
      arn: ARN,
      definition: {
        StartAt: 'Hold',
        States: { Hold: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:hold', End: true } },
      },
      // Executions whose input says hold wait for the gate; the rest end at once.
      tasks: { Hold: async (input) => ((input as { hold?: boolean }).hold ? gate.then(() => ({ held: true })) : { held: false }) },
    },
  ]);
  sfn = new SFNClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
});

afterAll(async () => {
  release();
  sfn?.destroy();
  await local?.stop();
});

const start = (name: string, input: object) => sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name, input: JSON.stringify(input) }));
const statusOf = async (name: string) =>
  (await sfn.send(new DescribeExecutionCommand({ executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:${name}` }))).status;

describe('local Step Functions endpoint', () => {
  it('treats the same name and input as the same execution while it runs, and refuses the name once it has ended', async () => {
    const first = await start('once', { hold: false });
    await local.idle();
    expect(await statusOf('once')).toBe('SUCCEEDED');
    await expect(start('once', { hold: false })).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const held = await start('held', { hold: true });
    expect((await start('held', { hold: true })).executionArn).toBe(held.executionArn);
    await expect(start('held', { hold: false })).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    expect(first.executionArn).toMatch(/:execution:test-waiter:once$/);
  });

  it('lists executions filtered by status, in pages', async () => {
    for (const n of [1, 2, 3]) await start(`run-${n}`, { hold: true, n });
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'RUNNING' }));
    const names = running.executions!.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['run-1', 'run-2', 'run-3', 'held']));
    expect(names).not.toContain('once');
    expect(running.executions!.every((e) => e.status === 'RUNNING' && e.stateMachineArn === ARN && e.startDate instanceof Date)).toBe(true);
    expect(running.nextToken).toBeUndefined();

    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, maxResults: 2, nextToken }));
      expect(page.executions!.length).toBeLessThanOrEqual(2);
      seen.push(...page.executions!.map((e) => e.name!));
      nextToken = page.nextToken;
    } while (nextToken);
    expect([...seen].sort()).toEqual(['held', 'once', 'run-1', 'run-2', 'run-3']);

    const succeeded = await sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'SUCCEEDED' }));
    expect(succeeded.executions!.map((e) => e.name)).toEqual(['once']);
  });

  it('answers an unknown state machine as AWS does', async () => {
    await expect(sfn.send(new ListExecutionsCommand({ stateMachineArn: `${ARN}-missing` }))).rejects.toBeInstanceOf(StateMachineDoesNotExist);
  });
});
