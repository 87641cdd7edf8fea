/**
 * Every AWS call the functions made while the API, compat and worker suites ran (recorded by
 * shared/adapters/aws-call-log.ts into SKYGLASS_AWS_CALL_LOG), checked against the IAM the
 * synthesized stack grants each function. So the local runtime, which holds no IAM of its own,
 * can no longer pass a call that AWS would refuse.
 *
 * This project runs after the others (vitest.config.ts: sequence.groupOrder), so the log is
 * complete; run it with them (`npm test`, or `npx vitest run --project api --project iam`).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AwsCallLogLine, AwsCallRecord } from '../../shared/adapters/aws-call-log.js';
import { DATA_FRONT, ROUTES, WORKERS } from '../../shared/routes.js';
import { readConfig } from '../../infra/config.js';
import { SkyglassStack, stackPropsFrom } from '../../infra/stack.js';
import { checkCalls, unusedGrants, type Violation } from './iam-check.js';
import { stackGrants, stackPrincipals, type StackGrants } from './stack-grants.js';
import { SEED_FUNCTION_NAME } from '../../infra/constructs/metadef-catalogue-seed.js';
import type { StoreDefinition } from '../../shared/domain/stores.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CDK_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

let calls: AwsCallRecord[];
let stack: SkyglassStack;
let granted: StackGrants;

function readLog(file: string): { calls: AwsCallRecord[]; environment: Record<string, string> } {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as AwsCallLogLine);
  const environment: Record<string, string> = {};
  for (const line of lines) {
    if (line.kind !== 'environment') continue;
    for (const [name, value] of Object.entries(line.environment)) {
      // Every process must have called the same resources, or the names below would be ambiguous.
      if (environment[name] !== undefined && environment[name] !== value) throw new Error(`${name} was ${environment[name]} in one recording process and ${value} in another`);
      environment[name] = value;
    }
  }
  return { calls: lines.filter((line): line is AwsCallRecord => line.kind === 'call'), environment };
}

const report = (violations: Violation[]) => violations.map((v) => `${v.fn ?? '(no function)'}: ${v.call}\n    ${v.reason}`);

beforeAll(() => {
  const file = process.env.SKYGLASS_AWS_CALL_LOG;
  if (!file || !existsSync(file)) {
    throw new Error(`No AWS call log at ${file ?? '(SKYGLASS_AWS_CALL_LOG unset)'}: run this project together with the api suite (npm test), which records it`);
  }
  const log = readLog(file);
  // Every call, the route rooms' (nested stacks) included.
  calls = log.calls;
  // With the data front: the local runtime streams under its identity, as the stack's task does.
  // With the runtime's stores: the default is the stack's own bucket (BUCKET_NAME), the others
  // the buckets they were by name, so every call to any store's bucket is checked.
  const stores = log.environment.STORES
    ? (JSON.parse(log.environment.STORES) as StoreDefinition[]).map((s) => (s.default ? { id: s.id, default: true } : { id: s.id, bucket: s.bucket, region: s.region }))
    : undefined;
  const app = new App({ context: { ...CDK_CONTEXT, 'skyglass:dataFront': true, ...(stores && { 'skyglass:stores': stores }), 'aws:cdk:bundling-stacks': [] } });
  stack = new SkyglassStack(app, 'SkyglassIamCheck', stackPropsFrom(readConfig((key) => app.node.tryGetContext(key), {})));
  const assembly = app.synth({ validateOnSynthesis: false });
  const template = assembly.getStackArtifact(stack.artifactId).template as { Resources: Record<string, Record<string, any>> };
  // A nested stack's template is written beside its parent's, named by its templateFile.
  const templateOf = (s: Stack) => (s === stack ? template : JSON.parse(readFileSync(path.join(assembly.directory, s.templateFile), 'utf8')));
  granted = stackGrants(stack, templateOf, log.environment);
}, 300_000);

describe('AWS calls made during the suites, against the IAM the stack grants', () => {
  it('were recorded for the functions the suites exercise, routes and workers alike', () => {
    const recorded = new Set(calls.map((c) => c.fn));
    // If recording broke, the check below would pass on nothing.
    for (const name of ['createImage', 'showImage', 'listImages', 'updateImage', 'deleteImage', 'uploadImageFile', 'stageImageData', 'importImage',
      'createImageUpload', 'getImageUpload', 'completeImageUpload', 'abortImageUpload', 'downloadImage', 'verifyImage', 'fetchImage', 'scrubImage', 'sweep', 'publishEvents',
      'createImageMember', 'listImageMembers', 'showImageMember', 'updateImageMember', 'deleteImageMember', DATA_FRONT.name,
      // The metadefs room (a nested stack): its functions' calls are checked like the parent's.
      'listMetadefNamespaces', 'createMetadefNamespace', 'showMetadefNamespace', 'deleteMetadefNamespace', 'createMetadefObject', 'createMetadefProperty', 'createMetadefTags']) {
      expect(recorded.has(name), `no calls recorded for ${name}`).toBe(true);
    }
    for (const service of ['dynamodb', 's3', 'states', 'events']) expect(calls.some((c) => c.service === service), service).toBe(true);
    const known = new Set([SEED_FUNCTION_NAME, ...ROUTES.map((r) => r.operationId), ...WORKERS.map((w) => w.name), 'authorizer', 'fallback', DATA_FRONT.name]);
    expect([...stackPrincipals(stack).keys()].sort()).toEqual([...known].sort());
  });

  it('are each allowed by the calling function\'s role', () => {
    expect(report(checkCalls(calls, granted.grants, granted.scope))).toEqual([]);
    // For review: what the suites never needed (untested paths may still need it).
    const unused = unusedGrants(calls, granted.grants, granted.scope);
    if (unused.length) console.info(`Grants no recorded call used:\n  ${unused.join('\n  ')}`);
  });

  it('would refuse a call the role is not granted: the sweepers\' Scan of the whole table, as they did before', () => {
    const table = calls.find((c) => c.fn === 'sweep' && c.service === 'dynamodb' && typeof c.params.TableName === 'string')!;
    expect(table, 'a recorded sweep call on the table').toBeDefined();
    const scan: AwsCallRecord = { kind: 'call', fn: 'sweep', service: 'dynamodb', command: 'Scan', params: { TableName: table.params.TableName } };
    expect(checkCalls([scan], granted.grants, granted.scope).map((v) => v.reason)).toEqual([
      expect.stringMatching(/^sweep's role is not granted dynamodb:Scan on arn:aws:dynamodb:[\w-]+:\d+:table\//),
    ]);
    // And what it does instead is granted: a Query of the status index.
    const query: AwsCallRecord = { ...scan, command: 'Query', params: { TableName: table.params.TableName, IndexName: 'byStatus' } };
    expect(checkCalls([query], granted.grants, granted.scope)).toEqual([]);
  });

  it('would refuse a metadefs function any item outside the metadefs partitions (dynamodb:LeadingKeys), and allows its own', () => {
    const read = calls.find((c) => c.fn === 'showMetadefNamespace' && c.command === 'GetItem');
    expect(read, 'a recorded GetItem of a namespace').toBeDefined();
    expect(read!.params.LeadingKeys).toEqual(['METADEFS']);
    expect(checkCalls([read!], granted.grants, granted.scope)).toEqual([]);
    // The same call on an image's partition, and a transaction one of whose items is an image's.
    const image: AwsCallRecord = { ...read!, params: { ...read!.params, LeadingKeys: ['IMAGE#'] } };
    expect(checkCalls([image], granted.grants, granted.scope).map((v) => v.reason)).toEqual([
      expect.stringMatching(/^showMetadefNamespace's role is not granted dynamodb:GetItem on arn:aws:dynamodb:[\w-]+:\d+:table\/.* with \{"dynamodb:LeadingKeys":\["IMAGE#"\]\}$/),
    ]);
    const write = calls.find((c) => c.fn === 'createMetadefObject' && c.command === 'TransactWriteItems');
    expect(write, 'a recorded transaction of an object create').toBeDefined();
    expect(checkCalls([write!], granted.grants, granted.scope)).toEqual([]);
    const items = write!.params.TransactItems as Array<Record<string, unknown>>;
    const intoImage: AwsCallRecord = { ...write!, params: { ...write!.params, TransactItems: [...items, { ...items[0], LeadingKeys: ['IMAGE#'] }] } };
    expect(checkCalls([intoImage], granted.grants, granted.scope)).toHaveLength(1);
  });

  it('would refuse the small-body Lambdas an abort of a multipart upload, which only the streaming front makes', () => {
    const abort = calls.find((c) => c.fn === DATA_FRONT.name && c.service === 's3' && c.command === 'AbortMultipartUpload');
    expect(abort, 'a recorded abort by the front (a refused or broken-off streamed upload)').toBeDefined();
    expect(checkCalls([abort!], granted.grants, granted.scope)).toEqual([]);
    for (const fn of ['uploadImageFile', 'stageImageData']) {
      expect(checkCalls([{ ...abort!, fn }], granted.grants, granted.scope).map((v) => v.reason)).toEqual([
        expect.stringMatching(new RegExp(`^${fn}'s role is not granted s3:AbortMultipartUpload on arn:aws:s3:::`)),
      ]);
    }
  });
});
