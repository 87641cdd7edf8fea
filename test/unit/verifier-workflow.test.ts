import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { FETCH_FUNCTION_ARN, VERIFY_FUNCTION_ARN, verifierDefinition } from '../../shared/workflows/verifier.js';

/**
 * The verifier's web-download path as Step Functions runs it (aws-local-stepfunctions, the
 * local runtime's engine), with the fetcher and verifier replaced by scripted answers.
 */
function definition() {
  const text = JSON.stringify(verifierDefinition())
    .split(FETCH_FUNCTION_ARN).join('arn:aws:lambda:us-east-1:123456789012:function:fetch')
    .split(VERIFY_FUNCTION_ARN).join('arn:aws:lambda:us-east-1:123456789012:function:verify');
  return JSON.parse(text) as never;
}

async function run(fetchAnswers: Array<Record<string, unknown>>) {
  const calls: string[] = [];
  const answers = [...fetchAnswers];
  const invoke = (name: string, answer: () => unknown) => async () => {
    calls.push(name);
    return { StatusCode: 200, Payload: answer() };
  };
  const machine = new StateMachine(definition(), { validationOptions: { checkArn: false } });
  const execution = machine.run(
    { image_id: 'i', key: 'images/i/k', uri: 'http://example.com/disk' },
    { overrides: { taskResourceLocalHandlers: { Fetch: invoke('Fetch', () => answers.shift()), Verify: invoke('Verify', () => ({ status: 'active' })) } as never } },
  );
  const output = (await execution.result) as Record<string, any>;
  return { calls, output };
}

describe('the verifier workflow, web-download', () => {
  it('runs Fetch again while it answers continue, then verifies once', async () => {
    const { calls, output } = await run([
      { result: 'continue', parts_done: 4, parts: 12, runs: 1 },
      { result: 'continue', parts_done: 8, parts: 12, runs: 2 },
      { result: 'fetched', size: 100 },
    ]);
    expect(calls).toEqual(['Fetch', 'Fetch', 'Fetch', 'Verify']);
    expect(output.fetch.outcome).toEqual({ result: 'fetched', size: 100 });
  });

  it('ends without verifying when the fetch failed or had nothing to do', async () => {
    for (const answer of [{ result: 'failed', reason: 'x' }, { result: 'skipped', why: 'y' }]) {
      const { calls } = await run([{ result: 'continue', parts_done: 1, parts: 3, runs: 1 }, answer]);
      expect(calls).toEqual(['Fetch', 'Fetch']);
    }
  });
});
