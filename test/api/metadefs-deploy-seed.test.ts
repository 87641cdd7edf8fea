/**
 * The metadefs catalogue's seed at deploy time (infra/constructs/metadef-catalogue-seed.ts):
 * CloudFormation invokes functions/metadefs/seed-catalogue.ts as a custom resource and waits
 * for the answer PUT to its ResponseURL. Driven here as CloudFormation drives it (the events it
 * sends, a ResponseURL that records the answer), against a DynamoDB Local of its own: Create
 * seeds, Update seeds only what is missing and keeps an operator's edits, Delete removes nothing,
 * and a failure is answered FAILED with its reason (never left unanswered).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable, startDynamoDbLocal, type LocalDynamo } from '../../infra/local/dynamodb.js';
import { SEED_FUNCTION_NAME } from '../../infra/constructs/metadef-catalogue-seed.js';
import { runAsFunction } from '../../shared/adapters/aws-call-log.js';
import { DynamoMetadefRepository } from '../../shared/adapters/dynamo-metadef-repository.js';
import * as metadefs from '../../shared/app/metadefs.js';
import type { Caller } from '../../shared/domain/caller.js';
import { SEED_NAMESPACES, SEED_RESOURCE_TYPES } from '../../shared/domain/metadef-catalogue.js';
import { createPolicy } from '../../shared/domain/policy.js';
import { customResourceHandler } from '../../shared/http/cloudformation-custom-resource.js';

const admin: Caller = { projectId: 'ops', userId: 'operator', roles: ['admin'] } as Caller;
let dynamo: LocalDynamo;
let workDir: string;
let server: Server;
/** What CloudFormation received at each ResponseURL, by request id. */
const answers = new Map<string, { method: string; body: Record<string, any> }>();
let responseBase: string;
let handler: (event: CloudFormationCustomResourceEvent) => Promise<void>;
let catalogue: metadefs.MetadefContext;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'skyglass-metadef-deploy-seed-'));
  dynamo = await startDynamoDbLocal(null, workDir);
  const tableName = 'metadefs-deploy-seed';
  await ensureTable(dynamo.client, tableName);
  catalogue = { repo: new DynamoMetadefRepository(dynamo.client, { tableName }), policy: createPolicy({}) };
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      answers.set(req.url!.slice(1), { method: req.method!, body: JSON.parse(text) });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  responseBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The deployed function's environment (the stack sets TABLE_NAME; DYNAMODB_ENDPOINT is the local one).
  // Its calls go unrecorded: test/iam names each resource once per run (this table is not the
  // suite's). Its grants are the seeding route's (test/infra/route-room.test.ts), whose run of
  // the same seed on npm start test/iam checks call by call.
  delete process.env.SKYGLASS_AWS_CALL_LOG;
  Object.assign(process.env, { TABLE_NAME: tableName, DYNAMODB_ENDPOINT: dynamo.endpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  handler = (await import('../../functions/metadefs/seed-catalogue.js')).handler;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await dynamo?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

let requests = 0;
/** Sends one event as CloudFormation does and returns what it was answered. */
async function send(requestType: 'Create' | 'Update' | 'Delete', invoke = handler) {
  const requestId = `request-${++requests}`;
  const event = {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:seed',
    ResponseURL: `${responseBase}/${requestId}`,
    StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/SkyglassMetadefsRoutes/1',
    RequestId: requestId,
    LogicalResourceId: 'CatalogueSeed',
    ResourceType: 'Custom::SkyglassMetadefCatalogueSeed',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:seed', CatalogueVersion: '2026.12' },
    ...(requestType !== 'Create' && { PhysicalResourceId: 'skyglass-metadefs-catalogue-seed', OldResourceProperties: {} }),
  } as CloudFormationCustomResourceEvent;
  await runAsFunction(SEED_FUNCTION_NAME, () => invoke(event));
  const answer = answers.get(requestId);
  expect(answer, `an answer to ${requestType}`).toBeDefined();
  expect(answer!.method).toBe('PUT');
  expect(answer!.body).toMatchObject({ RequestId: requestId, StackId: event.StackId, LogicalResourceId: 'CatalogueSeed', PhysicalResourceId: 'skyglass-metadefs-catalogue-seed' });
  return answer!.body;
}

const namespaces = async () => ((await metadefs.listNamespaces(catalogue, admin, { limit: '1000' })).namespaces as { namespace: string; display_name?: string }[]);

describe('the deploy-time seed (a CloudFormation custom resource)', () => {
  it('Create seeds the catalogue and answers SUCCESS with what it wrote', async () => {
    const answer = await send('Create');
    expect(answer).toMatchObject({ Status: 'SUCCESS', Data: { namespaces: SEED_NAMESPACES.length, resourceTypes: SEED_RESOURCE_TYPES.length } });
    expect((await namespaces()).map((n) => n.namespace).sort()).toEqual(SEED_NAMESPACES.map((n) => n.namespace).sort());
  });

  it("Update (the next deployment) writes nothing over an operator's edits or deletions; Delete removes nothing", async () => {
    const [edited, removed] = [SEED_NAMESPACES[0]!.namespace, SEED_NAMESPACES[1]!.namespace];
    await metadefs.updateNamespace(catalogue, admin, edited, { namespace: edited, display_name: 'Ours', visibility: 'public', protected: true });
    await metadefs.updateNamespace(catalogue, admin, removed, { namespace: removed, visibility: 'public', protected: false });
    await metadefs.deleteNamespace(catalogue, admin, removed);

    expect(await send('Update')).toMatchObject({ Status: 'SUCCESS', Data: { namespaces: 0, resourceTypes: 0 } });
    const after = await namespaces();
    expect(after.find((n) => n.namespace === edited)?.display_name).toBe('Ours');
    expect(after.map((n) => n.namespace)).not.toContain(removed);

    expect(await send('Delete')).toMatchObject({ Status: 'SUCCESS' });
    expect((await namespaces()).length).toBe(SEED_NAMESPACES.length - 1);
  });

  it('answers FAILED with the reason when the seed fails, so the deployment stops at once', async () => {
    const failing = customResourceHandler('skyglass-metadefs-catalogue-seed', async () => {
      throw new Error('Requested resource not found');
    });
    expect(await send('Create', failing)).toMatchObject({ Status: 'FAILED', Reason: 'Requested resource not found' });
  });
});
