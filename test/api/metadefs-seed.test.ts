/**
 * The team's metadefs catalogue, seeded on the first `npm start` (infra/local/server.ts), and
 * seeding's promises: idempotent, concurrent seeds agree, and an operator's edits and deletions
 * are never overwritten.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable, startDynamoDbLocal, type LocalDynamo } from '../../infra/local/dynamodb.js';
import { DynamoMetadefRepository } from '../../shared/adapters/dynamo-metadef-repository.js';
import { METADEF_CATALOGUE_PARTITION } from '../../shared/adapters/table-design.js';
import * as metadefs from '../../shared/app/metadefs.js';
import type { Caller } from '../../shared/domain/caller.js';
import { CATALOGUE_VERSION, SEED_NAMESPACES, SEED_RESOURCE_TYPES } from '../../shared/domain/metadef-catalogue.js';
import { createPolicy } from '../../shared/domain/policy.js';
import { call, tokenFor, uniqueProject } from './client.js';

describe('the seeded catalogue on the runtime the suite started', () => {
  it('lists the seeded namespaces, public and protected, to any project, with their properties and resource types', async () => {
    const token = await tokenFor(uniqueProject('mdseed'), ['member', 'reader']);
    const listed = await call('/v2/metadefs/namespaces?limit=1000', { token });
    expect(listed.status).toBe(200);
    const names = (listed.body.namespaces as { namespace: string }[]).map((n) => n.namespace);
    expect(names).toEqual(expect.arrayContaining(SEED_NAMESPACES.map((n) => n.namespace)));

    const watchdog = await call('/v2/metadefs/namespaces/OS::Compute::Watchdog', { token });
    expect(watchdog.status).toBe(200);
    expect(watchdog.body).toMatchObject({ visibility: 'public', protected: true, owner: 'admin' });
    expect(watchdog.body.properties.watchdog_action).toMatchObject({ name: 'watchdog_action', type: 'string', enum: expect.arrayContaining(['disabled', 'reset', 'poweroff']) });
    expect((watchdog.body.resource_type_associations as { name: string }[]).map((a) => a.name)).toContain('OS::Glance::Image');

    const types = ((await call('/v2/metadefs/resource_types', { token })).body.resource_types as { name: string }[]).map((t) => t.name);
    expect(types).toEqual(expect.arrayContaining([...SEED_RESOURCE_TYPES]));
    // Seeded namespaces are protected: an admin cannot delete one without unprotecting it first.
    const admin = await tokenFor(uniqueProject('mdseedadm'), ['admin']);
    expect((await call('/v2/metadefs/namespaces/OS::Compute::Watchdog', { method: 'DELETE', token: admin })).status).toBe(403);
  });
});

// A DynamoDB Local of its own (in memory), so seeding can start over without disturbing the suite's catalogue.
describe('seeding', () => {
  let dynamo: LocalDynamo;
  let workDir: string;
  let table = 0;
  const admin: Caller = { projectId: 'ops', userId: 'operator', roles: ['admin'] } as Caller;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'skyglass-metadef-seed-'));
    dynamo = await startDynamoDbLocal(null, workDir);
  }, 120_000);
  afterAll(async () => {
    await dynamo?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  async function freshCatalogue() {
    const tableName = `metadefs-${++table}`;
    await ensureTable(dynamo.client, tableName);
    const repo = new DynamoMetadefRepository(dynamo.client, { tableName });
    return { repo, catalogue: { repo, policy: createPolicy({}) }, tableName };
  }

  it('writes the catalogue once: a second seed writes nothing', async () => {
    const { catalogue } = await freshCatalogue();
    expect(await metadefs.seed(catalogue)).toEqual({ namespaces: SEED_NAMESPACES.length, resourceTypes: SEED_RESOURCE_TYPES.length });
    expect(await metadefs.seed(catalogue)).toEqual({ namespaces: 0, resourceTypes: 0 });
    const listed = await metadefs.listNamespaces(catalogue, admin, { limit: '1000' });
    expect((listed.namespaces as unknown[]).length).toBe(SEED_NAMESPACES.length);
  });

  it('three seeds at once (three first requests) leave one copy of each namespace', async () => {
    const { catalogue } = await freshCatalogue();
    await Promise.all([metadefs.seed(catalogue), metadefs.seed(catalogue), metadefs.seed(catalogue)]);
    const names = ((await metadefs.listNamespaces(catalogue, admin, { limit: '1000' })).namespaces as { namespace: string }[]).map((n) => n.namespace);
    expect(names.sort()).toEqual(SEED_NAMESPACES.map((n) => n.namespace).sort());
  });

  it("never overwrites an operator's edits, even when a new catalogue version seeds again", async () => {
    const { catalogue, tableName } = await freshCatalogue();
    await metadefs.seed(catalogue);
    const edited = SEED_NAMESPACES[0]!.namespace;
    await metadefs.updateNamespace(catalogue, admin, edited, { namespace: edited, display_name: 'Ours', description: 'edited by the operator', visibility: 'private', protected: true });
    await metadefs.deleteProperty(catalogue, admin, edited, Object.keys(SEED_NAMESPACES[0]!.properties)[0]!);

    // A later catalogue version finds no marker of its own and seeds what is missing only.
    await dynamo.client.send(new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: METADEF_CATALOGUE_PARTITION }, sk: { S: `SEEDED#${CATALOGUE_VERSION}` } } }));
    expect(await metadefs.seed(catalogue)).toEqual({ namespaces: 0, resourceTypes: 0 });
    const shown = await metadefs.showNamespace(catalogue, admin, edited);
    expect(shown).toMatchObject({ display_name: 'Ours', description: 'edited by the operator', visibility: 'private' });
    expect(Object.keys(shown.properties as object)).not.toContain(Object.keys(SEED_NAMESPACES[0]!.properties)[0]);
  });
});
