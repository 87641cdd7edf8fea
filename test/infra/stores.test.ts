/**
 * Several stores (`skyglass:stores`, issue #15): a two-region configuration synthesizes, the
 * stack creates and hardens the buckets it is asked to, every function that reaches image data
 * is granted on every store's bucket and nothing else, and cdk-nag stays clean.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../infra/config.js';
import { SkyglassStack, stackPropsFrom } from '../../infra/stack.js';
import { PARENT_STACK_ROUTES as ROUTES, WORKERS } from '../../shared/routes.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CDK_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
type Json = Record<string, any>;
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The default store in the stack's region (its own bucket), a second one it creates there, and one in eu-west-1 that exists. */
const TWO_REGIONS = [
  { id: 'us', default: true, description: 'Virginia' },
  { id: 'archive', description: 'Created by the stack' },
  { id: 'eu', region: 'eu-west-1', bucket: 'acme-images-eu-west-1', description: 'Ireland' },
];

function synthesize(context: Record<string, unknown>) {
  const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], 'skyglass:region': 'us-east-1', ...context } });
  const stack = new SkyglassStack(app, 'SkyglassStores', stackPropsFrom(readConfig((key) => app.node.tryGetContext(key), {})));
  return { app, stack, resources: Template.fromStack(stack).toJSON().Resources as Record<string, Json> };
}

let synth: ReturnType<typeof synthesize>;
beforeAll(() => {
  synth = synthesize({ 'skyglass:stores': TWO_REGIONS });
}, 120_000);

const idOf = (c: { node: { defaultChild?: unknown } }) => synth.stack.getLogicalId(c.node.defaultChild as CfnElement);

function statementsOf(roleId: string): Json[] {
  const { resources } = synth;
  const out: Json[] = asArray(resources[roleId]!.Properties.Policies as Json[]).flatMap((p) => p.PolicyDocument.Statement);
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::IAM::Policy' && asArray(r.Properties.Roles as Json[]).some((role) => role.Ref === roleId)) out.push(...r.Properties.PolicyDocument.Statement);
  }
  return out;
}

describe('skyglass:stores', () => {
  it('creates the stores that name no bucket, hardened as the default one, and only those', () => {
    // The console's own bucket (skyglass:console, on by default) holds no images.
    const consoleBucket = synth.stack.console ? idOf(synth.stack.console.bucket) : undefined;
    const buckets = Object.entries(synth.resources).filter(([id, r]) => r.Type === 'AWS::S3::Bucket' && id !== consoleBucket);
    expect(buckets.map(([id]) => id).sort()).toEqual([idOf(synth.stack.storeBuckets.us!), idOf(synth.stack.storeBuckets.archive!)].sort());
    const [own, archive] = [synth.resources[idOf(synth.stack.bucket)]!, synth.resources[idOf(synth.stack.storeBuckets.archive!)]!];
    for (const key of ['BucketEncryption', 'PublicAccessBlockConfiguration', 'OwnershipControls', 'CorsConfiguration', 'LifecycleConfiguration']) {
      expect(archive.Properties[key], key).toEqual(own.Properties[key]);
    }
    // TLS only, on the created bucket too.
    const policies = Object.values(synth.resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy');
    const archivePolicy = policies.find((p) => JSON.stringify(p.Properties.Bucket).includes(idOf(synth.stack.storeBuckets.archive!)));
    expect(JSON.stringify(archivePolicy?.Properties.PolicyDocument)).toContain('aws:SecureTransport');
  });

  it('grants every function that touches image data on each store\'s bucket alike, and no other function any bucket', () => {
    const dataKinds = new Set(ROUTES.concat().flatMap((r) => r.access).filter((a) => a.startsWith('bucket:')));
    expect(dataKinds.size).toBeGreaterThan(0);
    const named = [
      ...ROUTES.map((r) => ({ name: r.operationId, access: r.access, fn: synth.stack.functions[r.operationId]! })),
      ...WORKERS.map((w) => ({ name: w.name, access: w.access, fn: synth.stack.workers[w.name]! })),
    ];
    const bucketRefs = {
      us: `"${idOf(synth.stack.bucket)}"`,
      archive: `"${idOf(synth.stack.storeBuckets.archive!)}"`,
      eu: ':s3:::acme-images-eu-west-1',
    };
    for (const { name, access, fn } of named) {
      const s3Statements = statementsOf(idOf(fn.role!)).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('s3:')));
      if (!access.some((a) => a.startsWith('bucket:'))) {
        expect(s3Statements, name).toEqual([]);
        continue;
      }
      for (const statement of s3Statements) {
        const resources = asArray(statement.Resource).map((r) => JSON.stringify(r));
        expect(resources, `${name} ${statement.Sid}`).toHaveLength(3);
        for (const [store, ref] of Object.entries(bucketRefs)) expect(resources.some((r) => r.includes(ref)), `${name} ${statement.Sid} on ${store}`).toBe(true);
        // Objects under images/ only; bucket-level actions on the buckets themselves.
        if (statement.Sid === 'ImageObjects') for (const r of resources) expect(r, name).toContain('/images/*');
      }
    }
  });

  it('tells every function the stores as STORES, with the buckets and regions they resolve to', () => {
    const show = synth.resources[idOf(synth.stack.functions.getStoresInfo!)]!;
    const stores = JSON.stringify(show.Properties.Environment.Variables.STORES);
    for (const text of ['\\"id\\":\\"us\\"', '\\"id\\":\\"archive\\"', 'acme-images-eu-west-1', 'eu-west-1', '\\"default\\":true']) expect(stores).toContain(text);
    expect(stores).toContain(idOf(synth.stack.storeBuckets.archive!));
  });

  it('passes cdk-nag with the stores', () => {
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  it('refuses a store it cannot make: another region without a bucket, a default that names one, two defaults', () => {
    expect(() => synthesize({ 'skyglass:stores': [{ id: 'us', default: true }, { id: 'eu', region: 'eu-west-1' }] })).toThrow(/store "eu" is in eu-west-1.*must name its "bucket"/);
    expect(() => synthesize({ 'skyglass:stores': [{ id: 'us', default: true, bucket: 'some-bucket' }] })).toThrow(/default store "us" is the stack's own bucket/);
    expect(() => synthesize({ 'skyglass:stores': [{ id: 'a', default: true }, { id: 'b', default: true }] })).toThrow(/exactly one store must be "default"/);
    expect(() => synthesize({ 'skyglass:stores': [{ id: 'os_glance_staging_store' }] })).toThrow(/reserved/);
    expect(() => synthesize({ 'skyglass:stores': [{ id: 'a,b' }] })).toThrow(/"id" must be/);
  });

  it('stays within CloudFormation\'s 500 resources in every configuration', () => {
    const counts = {
      default: Object.keys(synthesize({}).resources).length,
      dataFront: Object.keys(synthesize({ 'skyglass:dataFront': true }).resources).length,
      stores: Object.keys(synth.resources).length,
      storesAndDataFront: Object.keys(synthesize({ 'skyglass:stores': TWO_REGIONS, 'skyglass:dataFront': true }).resources).length,
    };
    console.log(`CloudFormation resources with stores: ${JSON.stringify(counts)} (limit 500)`);
    for (const count of Object.values(counts)) expect(count).toBeLessThanOrEqual(500);
  });
});
