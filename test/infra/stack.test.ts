/**
 * The CDK stack, as CloudFormation: one function per route of the route table and per worker,
 * the authorizer and fallback wiring, data resources, the verifier and scrubber state machines,
 * the sweepers' schedules, the alarms, least-privilege IAM derived from each route's and
 * worker's declared access, Glance-shaped gateway responses and cdk-nag's AwsSolutions pack.
 * Synthesizes once, with esbuild bundling skipped.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, CfnResource, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../shared/adapters/table-design.js';
import { DATA_FRONT, FALLBACK_HANDLER, PARENT_STACK_ROUTES as ROUTES, ROUTES as ALL_ROUTES, WORKERS, type Access, type Route } from '../../shared/routes.js';
import { inParent, resourceOf } from './nested-templates.js';
import { HEALTH_PATH } from '../../functions/data-front/server.js';
import { scrubberDefinition } from '../../shared/workflows/scrubber.js';
import { verifierDefinition } from '../../shared/workflows/verifier.js';
import { functionArnPlaceholder } from '../../infra/constructs/image-workflows.js';
import {
  DEFAULT_DATA_SETTINGS,
  DEFAULT_DELETE_SETTINGS,
  DEFAULT_SWEEP_SETTINGS,
  multipartAbortDays,
  readAlarmSettings,
  readConfig,
  readImageMemberQuota,
  readQuotas,
  readProvisionedConcurrency,
  readDataSettings,
  readDeleteSettings,
  readSweepSettings,
} from '../../infra/config.js';
import { BINARY_MEDIA_TYPES } from '../../shared/http/binary-media.js';
import { GATEWAY_RESPONSES, UPLOAD_HINT } from '../../shared/http/gateway-responses.js';
import { ImageApi } from '../../infra/constructs/image-api.js';
import { ImageBucket } from '../../infra/constructs/image-bucket.js';
import { ImageTable } from '../../infra/constructs/image-table.js';
import { SkyglassFunction } from '../../infra/constructs/skyglass-function.js';
import { SWEEP_SCHEDULES } from '../../infra/constructs/sweep-schedules.js';
import { SkyglassAlarms } from '../../infra/constructs/alarms.js';
import { SkyglassStack, stackPropsFrom } from '../../infra/stack.js';
import { bundleDataFront } from '../../infra/bundling.js';
import { VIEWER_HOST_FUNCTION } from '../../infra/constructs/data-front.js';
import { CONSOLE_VIEWER_FUNCTION } from '../../infra/constructs/console-site.js';
import { S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** asl-validator 4 is CommonJS without type declarations: `validator(definition, options?)`. */
const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errors: unknown[]; errorsText: (separator?: string) => string };

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The context `cdk synth` sees (feature flags, skyglass:* defaults), so the test synthesizes the same stack. */
const CDK_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

type Json = Record<string, any>; // CloudFormation fragments
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Condition?: Json; Principal?: Json; NotAction?: unknown; NotResource?: unknown };

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * A stand-in for the built console (dist/console): the stack deploys whatever folder it is given,
 * and these tests are about the template, not the build (test/console drives the real one).
 */
const CONSOLE_BUILD = mkdtempSync(path.join(tmpdir(), 'skyglass-console-build-'));
writeFileSync(path.join(CONSOLE_BUILD, 'index.html'), '<!doctype html><title>Skyglass console</title>');
mkdirSync(path.join(CONSOLE_BUILD, 'assets'));
writeFileSync(path.join(CONSOLE_BUILD, 'assets', 'index-0123abcd.js'), 'export {};');

function synthesize(context: Record<string, unknown>): { app: App; stack: SkyglassStack } {
  const app = new App({ context: { ...CDK_CONTEXT, ...context } });
  const config = readConfig((key) => app.node.tryGetContext(key), {});
  const stack = new SkyglassStack(app, 'SkyglassTest', { ...stackPropsFrom(config), consoleAssetDir: CONSOLE_BUILD });
  return { app, stack };
}

let app: App;
let stack: SkyglassStack;
let template: Template;
let resources: Record<string, Json>;

const ofType = (type: string): [string, Json][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const functionId = (operationId: string): string => logicalId(stack.functions[operationId] as IConstruct);
const workerId = (name: string): string => logicalId(stack.workers[name] as IConstruct);
/** `<bucket ARN>/images/*`: the only S3 object resource any application role may name. */
const imagesArn = (): Json => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.bucket), 'Arn'] }, '/images/*']] });
/** The bucket itself: only for s3:ListBucket, and only with the images/ prefix condition. */
const bucketArn = (): Json => ({ 'Fn::GetAtt': [logicalId(stack.bucket), 'Arn'] });
const LIST_CONDITION = { StringLike: { 's3:prefix': 'images/*' } };

/** Every function the route table and worker table declare, with its logical id and declared access. */
const declared = (): { name: string; id: string; access: readonly Access[] }[] => [
  ...ROUTES.map((r) => ({ name: r.operationId, id: functionId(r.operationId), access: r.access })),
  ...WORKERS.map((w) => ({ name: w.name, id: workerId(w.name), access: w.access })),
];

/** Path of an AWS::ApiGateway::Resource (or the root), rebuilt from PathPart/ParentId. */
function resourcePath(ref: Json): string {
  if (ref['Fn::GetAtt']?.[1] === 'RootResourceId') return '/';
  const id = ref.Ref as string;
  const resource = resources[id];
  if (!resource || resource.Type !== 'AWS::ApiGateway::Resource') throw new Error(`not a resource: ${JSON.stringify(ref)}`);
  const parent = resourcePath(resource.Properties.ParentId);
  return `${parent === '/' ? '' : parent}/${resource.Properties.PathPart}`;
}

interface MethodInfo {
  id: string;
  httpMethod: string;
  path: string;
  authorizationType: string;
  authorizerId?: Json;
  integration: Json;
  operationName?: string;
}

function methods(): MethodInfo[] {
  return ofType('AWS::ApiGateway::Method').map(([id, r]) => ({
    id,
    httpMethod: r.Properties.HttpMethod,
    path: resourcePath(r.Properties.ResourceId),
    authorizationType: r.Properties.AuthorizationType,
    authorizerId: r.Properties.AuthorizerId,
    integration: r.Properties.Integration,
    operationName: r.Properties.OperationName,
  }));
}

/** Whether an integration URI invokes the given function (by logical id). */
const invokes = (integration: Json, fnId: string): boolean => JSON.stringify(integration.Uri).includes(`"${fnId}"`);

/** Every IAM statement attached to a function's execution role (inline policies and attached AWS::IAM::Policy). */
function roleStatements(fnLogicalId: string): Statement[] {
  const roleRef = resources[fnLogicalId]!.Properties.Role['Fn::GetAtt'][0] as string;
  const statements: Statement[] = [];
  for (const policy of asArray(resources[roleRef]!.Properties.Policies as Json[])) statements.push(...policy.PolicyDocument.Statement);
  for (const [, policy] of ofType('AWS::IAM::Policy')) {
    if (asArray(policy.Properties.Roles as Json[]).some((r) => r.Ref === roleRef)) statements.push(...policy.Properties.PolicyDocument.Statement);
  }
  return statements;
}

const actionsOf = (statements: Statement[]): string[] => statements.flatMap((s) => asArray(s.Action));
const dynamoActions = (operationId: string): string[] => actionsOf(roleStatements(functionId(operationId))).filter((a) => a.startsWith('dynamodb:'));

const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];

/** Rules acknowledged somewhere in the stack, with their reasons (cdk-nag 3 reads the same metadata). */
function acknowledgements(): { path: string; id: string; reason: string }[] {
  return stack.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason }))),
  );
}

beforeAll(() => {
  // The API and its workers as the stack deploys them; the browser console's resources (on by
  // default) are checked on their own synthesis, in "browser console" below.
  ({ app, stack } = synthesize({ 'aws:cdk:bundling-stacks': [], 'skyglass:console': false }));
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Json>;
}, 120_000);

/** The stack with the data front (skyglass:dataFront=true, quotas on), synthesized once, on first use. */
const FRONT_QUOTAS = { defaults: { image_size_total: 1000 }, projects: {} };
let frontSynth: { app: App; stack: SkyglassStack; resources: Record<string, Json> } | undefined;
function frontVariant(): { app: App; stack: SkyglassStack; resources: Record<string, Json> } {
  if (!frontSynth) {
    const synth = synthesize({ 'aws:cdk:bundling-stacks': [], 'skyglass:dataFront': true, 'skyglass:quotas': FRONT_QUOTAS, 'skyglass:console': false });
    frontSynth = { ...synth, resources: Template.fromStack(synth.stack).toJSON().Resources as Record<string, Json> };
  }
  return frontSynth;
}
/** Every statement of a role (inline policies and AWS::IAM::Policy resources attached to it), in a template's resources. */
function statementsOfRole(all: Record<string, Json>, roleId: string): Statement[] {
  const statements: Statement[] = [];
  for (const policy of asArray(all[roleId]!.Properties.Policies as Json[])) statements.push(...policy.PolicyDocument.Statement);
  for (const policy of Object.values(all)) {
    if (policy.Type === 'AWS::IAM::Policy' && asArray(policy.Properties.Roles as Json[]).some((r) => r.Ref === roleId)) statements.push(...policy.Properties.PolicyDocument.Statement);
  }
  return statements;
}

describe('functions', () => {
  const appFunctions = () => ofType('AWS::Lambda::Function').filter(([, r]) => asArray(r.Properties.Architectures).includes('arm64'));

  it('creates exactly one Lambda per route and per worker, plus the authorizer and the fallback', () => {
    expect(appFunctions()).toHaveLength(ROUTES.length + WORKERS.length + 2);
    // stack.functions holds every route's function, the rooms' (nested stacks) too; this template the parent's.
    expect(Object.keys(stack.functions).sort()).toEqual(ALL_ROUTES.map((r) => r.operationId).sort());
    expect(Object.keys(stack.workers).sort()).toEqual(WORKERS.map((w) => w.name).sort());
    const ids = new Set(appFunctions().map(([id]) => id));
    for (const route of ROUTES) expect(ids.has(functionId(route.operationId)), route.operationId).toBe(true);
    for (const worker of WORKERS) expect(ids.has(workerId(worker.name)), worker.name).toBe(true);
    expect(ids.has(logicalId(stack.authorizerFunction))).toBe(true);
    expect(ids.has(logicalId(stack.fallbackFunction))).toBe(true);
    // The only other function is CDK's provider behind the bucket's autoDeleteObjects (non-prod).
    const others = ofType('AWS::Lambda::Function').filter(([id]) => !ids.has(id));
    expect(others.map(([id]) => id)).toEqual([expect.stringMatching(/^CustomS3AutoDeleteObjectsCustomResourceProvider/)]);
  });

  it('construct id of each route function is its operationId, of each worker its name', () => {
    for (const route of ROUTES) expect(stack.functions[route.operationId]!.node.id).toBe(route.operationId);
    for (const worker of WORKERS) expect(stack.workers[worker.name]!.node.id).toBe(worker.name);
  });

  it('applies the house defaults: newest Node.js on ARM64, 512 MB, 10 s (authorizer 5 s), active tracing, own log group', () => {
    const verifierId = workerId('verifyImage');
    const sweepId = workerId('sweep');
    const fetcherId = workerId('fetchImage');
    for (const [id, fn] of appFunctions()) {
      const p = fn.Properties;
      expect(p.Runtime, id).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      // The verifier streams and hashes whole images: one full vCPU (1769 MB) and Lambda's 15 minutes.
      // The web-download fetcher streams a source into parts for up to Lambda's 15 minutes: 1024 MB for (4 + 1) parts in memory.
      expect(p.MemorySize, id).toBe(id === verifierId ? 1769 : id === fetcherId ? 1024 : 512);
      // The sweeper pages through the table's indexes and lists the bucket: Lambda's 15 minutes too.
      // Routes that declare a timeout get it (completing a large multipart upload takes S3 a while).
      const routeTimeout = ROUTES.find((r) => r.timeoutSeconds && logicalId(stack.functions[r.operationId]!) === id)?.timeoutSeconds;
      // The event relay publishes a stream batch of up to 100 records: a minute.
      const relayTimeout = id === workerId('publishEvents') ? 60 : undefined;
      expect(p.Timeout, id).toBe(routeTimeout ?? relayTimeout ?? (id === logicalId(stack.authorizerFunction) ? 5 : id === verifierId || id === sweepId || id === fetcherId ? 900 : 10));
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Handler).toBe('index.handler');
      const logGroupId = p.LoggingConfig.LogGroup.Ref as string;
      expect(resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
      expect(resources[logGroupId]!.Properties.RetentionInDays).toBe(30);
    }
  });

  it('sets TABLE_NAME only on functions whose route touches the table', () => {
    for (const route of ROUTES) {
      const env = resources[functionId(route.operationId)]!.Properties.Environment?.Variables ?? {};
      if (route.access.some((a) => a.startsWith('table:'))) expect(env.TABLE_NAME, route.operationId).toEqual({ Ref: logicalId(stack.table) });
      else expect(env.TABLE_NAME, route.operationId).toBeUndefined();
    }
    for (const fn of [stack.authorizerFunction, stack.fallbackFunction]) {
      expect(resources[logicalId(fn)]!.Properties.Environment?.Variables?.TABLE_NAME).toBeUndefined();
    }
  });

  it('gives functions with bucket access (only) the bucket name and lifetimes, and the verifier ARN to those that start it', () => {
    const data = { UPLOAD_URL_SECONDS: '900', UPLOAD_SESSION_SECONDS: '86400', DOWNLOAD_URL_SECONDS: '300' };
    for (const { name, id, access } of declared()) {
      const env = (resources[id]!.Properties.Environment?.Variables ?? {}) as Json;
      const startsVerifier = access.includes('workflow:verify') || access.includes('workflow:redrive-verify');
      // Import starts the verifier but touches no object: no bucket name.
      const isData = access.some((a) => a.startsWith('bucket:'));
      if (isData) {
        expect(env.BUCKET_NAME, name).toEqual({ Ref: logicalId(stack.bucket) });
        expect(env, name).toMatchObject(data);
      } else {
        for (const key of ['BUCKET_NAME', ...Object.keys(data)]) expect(env[key], `${name} ${key}`).toBeUndefined();
      }
      if (startsVerifier) expect(env.VERIFIER_STATE_MACHINE_ARN, name).toEqual({ Ref: logicalId(stack.verifier) });
      else expect(env.VERIFIER_STATE_MACHINE_ARN, name).toBeUndefined();
    }
    expect(ROUTES.find((r) => r.operationId === 'importImage')?.access.some((a) => a.startsWith('bucket:'))).toBe(false);
    expect(resources[functionId('importImage')]!.Properties.Environment.Variables.BUCKET_NAME).toBeUndefined();
    for (const fn of [stack.authorizerFunction, stack.fallbackFunction]) {
      const env = (resources[logicalId(fn)]!.Properties.Environment?.Variables ?? {}) as Json;
      for (const key of ['BUCKET_NAME', 'VERIFIER_STATE_MACHINE_ARN', 'SCRUBBER_STATE_MACHINE_ARN', 'EVENT_BUS_NAME']) expect(env[key], key).toBeUndefined();
    }
  });

  it('gives the sweep worker (only) the sweepers\' limits', () => {
    const sweepKeys = { SWEEP_STUCK_SECONDS: String(DEFAULT_SWEEP_SETTINGS.stuckSeconds), ORPHAN_GRACE_SECONDS: String(DEFAULT_SWEEP_SETTINGS.orphanGraceSeconds) };
    expect(sweepKeys).toEqual({ SWEEP_STUCK_SECONDS: '7200', ORPHAN_GRACE_SECONDS: '86400' });
    for (const { name, id } of declared()) {
      const env = (resources[id]!.Properties.Environment?.Variables ?? {}) as Json;
      if (name === 'sweep') expect(env, name).toMatchObject(sweepKeys);
      else for (const key of Object.keys(sweepKeys)) expect(env[key], `${name} ${key}`).toBeUndefined();
    }
  });

  it('gives the scrubber\'s ARN to functions that start or stop it, the delete settings to those that start it, the bus name to publishers', () => {
    for (const { name, id, access } of declared()) {
      const env = (resources[id]!.Properties.Environment?.Variables ?? {}) as Json;
      if (access.includes('workflow:scrub') || access.includes('workflow:stop-scrub') || access.includes('workflow:redrive-scrub')) {
        expect(env.SCRUBBER_STATE_MACHINE_ARN, name).toEqual({ Ref: logicalId(stack.scrubber) });
      }
      else expect(env.SCRUBBER_STATE_MACHINE_ARN, name).toBeUndefined();
      if (access.includes('workflow:scrub')) {
        expect(env, name).toMatchObject({ DELAYED_DELETE: 'true', SCRUB_DELAY_SECONDS: '3600' });
      } else if (access.includes('workflow:redrive-scrub')) {
        // Re-drives scrub at once (their time is due): the ARN, not the delete settings.
        expect(env.SCRUBBER_STATE_MACHINE_ARN, name).toEqual({ Ref: logicalId(stack.scrubber) });
        for (const key of ['DELAYED_DELETE', 'SCRUB_DELAY_SECONDS']) expect(env[key], `${name} ${key}`).toBeUndefined();
      } else {
        for (const key of ['DELAYED_DELETE', 'SCRUB_DELAY_SECONDS']) expect(env[key], `${name} ${key}`).toBeUndefined();
      }
      if (access.includes('events:publish')) expect(env.EVENT_BUS_NAME, name).toEqual({ Ref: logicalId(stack.eventBus) });
      else expect(env.EVENT_BUS_NAME, name).toBeUndefined();
    }
  });

  it('configures the authorizer with the Cognito issuer, audience, JWKS URL and claim names', () => {
    const env = resources[logicalId(stack.authorizerFunction)]!.Properties.Environment.Variables as Json;
    const poolId = logicalId(stack.userPool!);
    expect(JSON.stringify(env.JWT_ISSUER)).toContain('https://cognito-idp.');
    expect(JSON.stringify(env.JWT_ISSUER)).toContain(`"Ref":"${poolId}"`);
    expect(JSON.stringify(env.JWKS_URL)).toContain('/.well-known/jwks.json');
    expect(env.JWT_AUDIENCE).toEqual({ Ref: logicalId(stack.userPoolClient!) });
    expect(env.JWKS_JSON).toBeUndefined();
    expect(env).toMatchObject({ CLAIM_PROJECT: 'custom:project_id', CLAIM_USER: 'sub', CLAIM_ROLES: 'custom:roles' });
  });
});

describe('REST API', () => {
  it('is a regional REST API named per stage, without the account CloudWatch role', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Name: 'skyglass-dev',
      EndpointConfiguration: { Types: ['REGIONAL'] },
      MinimumCompressionSize: Match.absent(),
    });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([
        Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }),
      ]),
    });
  });

  it('hands every request body to its function byte for byte: all media types binary, proxy integrations without content conversion', () => {
    // A body whose Content-Type is not a binary media type reaches a Lambda proxy integration
    // UTF-8-decoded (invalid bytes replaced): image data sent as text/plain would be mangled.
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: BINARY_MEDIA_TYPES });
    for (const method of methods()) {
      expect(method.integration.Type, method.id).toBe('AWS_PROXY');
      expect(method.integration.ContentHandling, method.id).toBeUndefined();
    }
  });

  it('has a method with the right HTTP method, path, operation name and function for every route', () => {
    const all = methods();
    for (const route of ROUTES) {
      const found = all.filter((m) => m.httpMethod === route.method && m.path === route.path);
      expect(found, `${route.method} ${route.path}`).toHaveLength(1);
      const method = found[0]!;
      expect(method.operationName).toBe(route.operationId);
      expect(method.integration.Type).toBe('AWS_PROXY');
      expect(method.integration.IntegrationHttpMethod).toBe('POST');
      expect(invokes(method.integration, functionId(route.operationId)), route.operationId).toBe(true);
    }
  });

  it('guards auth routes with the CUSTOM authorizer and leaves version discovery open', () => {
    const authorizerId = logicalId(stack.imageApi.authorizer);
    const all = methods();
    const methodOf = (route: Route) => all.find((m) => m.httpMethod === route.method && m.path === route.path)!;
    for (const route of ROUTES) {
      const method = methodOf(route);
      if (route.auth) {
        expect(method.authorizationType, route.operationId).toBe('CUSTOM');
        expect(method.authorizerId).toEqual({ Ref: authorizerId });
      } else {
        expect(method.authorizationType, route.operationId).toBe('NONE');
        expect(method.authorizerId).toBeUndefined();
      }
    }
    const versionRoutes = ROUTES.filter((r) => r.handler.startsWith('functions/versions/'));
    expect(versionRoutes.length).toBeGreaterThan(0);
    for (const route of versionRoutes) expect(methodOf(route).authorizationType).toBe('NONE');
  });

  it('uses a REQUEST authorizer whose decisions API Gateway caches for 5 minutes, keyed by the X-Auth-Token header', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    // The one identity source is the cache key, and API Gateway answers 401 without calling the
    // authorizer when it is missing: X-Auth-Token, what every Glance client sends.
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 300,
      IdentitySource: 'method.request.header.X-Auth-Token',
    });
    const [, authorizer] = ofType('AWS::ApiGateway::Authorizer')[0]!;
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(`"${logicalId(stack.authorizerFunction)}"`);
    // A cached Allow serves every route of the stage, so the authorizer must allow the whole stage, never one method.
    const code = readFileSync(path.join(REPO_ROOT, 'functions/auth/authorizer.ts'), 'utf8');
    expect(code).toContain('Resource: `${arnPrefix}/${stage}/*`');
  });

  it('turns the authorizer cache off with skyglass:authorizerCacheSeconds=0, and then requires no identity source (Authorization: Bearer alone works)', () => {
    expect(readConfig((key) => ({ 'skyglass:authorizerCacheSeconds': '0' })[key], {}).authorizerCacheSeconds).toBe(0);
    expect(readConfig(() => undefined, {}).authorizerCacheSeconds).toBe(300);
    for (const bad of ['-1', '3601', '1.5', 'soon']) expect(() => readConfig((key) => ({ 'skyglass:authorizerCacheSeconds': bad })[key], {}), bad).toThrow(/authorizerCacheSeconds/);
    const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Uncached');
    const table = new ImageTable(scope, 'Images', { production: false }).table;
    new ImageApi(scope, 'Api', { stage: 'dev', table, authorizerEnvironment: {}, routes: ROUTES.filter((r) => r.operationId === 'showImage'), authorizerCacheSeconds: 0 });
    Template.fromStack(scope).hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 0, IdentitySource: Match.absent() });
  });

  it('sends every unmatched method and path to the fallback, without authorization', () => {
    const fallbackId = logicalId(stack.fallbackFunction);
    const expectedPaths = new Set<string>(['/', '/{proxy+}']);
    for (const route of ROUTES) {
      const segments = route.path.split('/').filter(Boolean);
      for (let i = 1; i <= segments.length; i++) expectedPaths.add(`/${segments.slice(0, i).join('/')}`);
    }
    // e.g. /v2 and /v2/images/{image_id}/actions exist only as intermediate resources
    expect(expectedPaths.has('/v2')).toBe(true);
    expect(expectedPaths.has('/v2/images/{image_id}/actions')).toBe(true);

    const anyMethods = methods().filter((m) => m.httpMethod === 'ANY');
    expect(anyMethods.map((m) => m.path).sort()).toEqual([...expectedPaths].sort());
    for (const method of anyMethods) {
      expect(method.authorizationType, method.path).toBe('NONE');
      expect(method.integration.Type).toBe('AWS_PROXY');
      expect(invokes(method.integration, fallbackId), method.path).toBe(true);
    }
    // Only route methods and fallback ANY methods exist.
    expect(methods()).toHaveLength(ROUTES.length + expectedPaths.size);
  });

  it('answers gateway errors in Glance\'s JSON shape', () => {
    const expected: [string, string, string][] = [
      ['UNAUTHORIZED', '401', 'Unauthorized'],
      ['ACCESS_DENIED', '403', 'Forbidden'],
      ['MISSING_AUTHENTICATION_TOKEN', '404', 'Not Found'],
      ['REQUEST_TOO_LARGE', '413', 'Request Entity Too Large'],
      ['DEFAULT_5XX', '500', 'Internal Server Error'],
      // The authorizer could not decide (Keystone unreachable): the token may be valid, so not a 401.
      ['AUTHORIZER_CONFIGURATION_ERROR', '503', 'Service Unavailable'],
      ['AUTHORIZER_FAILURE', '503', 'Service Unavailable'],
    ];
    const responses = ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties as Json);
    for (const [type, status, title] of expected) {
      const response = responses.find((r) => r.ResponseType === type);
      expect(response, type).toBeDefined();
      expect(response!.StatusCode).toBe(status);
      expect(response!.ResponseParameters['gatewayresponse.header.Content-Type']).toBe("'application/json'");
      const body = JSON.parse(response!.ResponseTemplates['application/json'] as string) as Json;
      // The OpenStack envelope: the one JSON error shape every stock client reads.
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'title']);
      expect(body.error.code).toBe(Number(status));
      expect(body.error.title).toBe(title);
      expect(typeof body.error.message).toBe('string');
      expect(body.error.message.length).toBeGreaterThan(10);
    }
    const tooLarge = responses.find((r) => r.ResponseType === 'REQUEST_TOO_LARGE')!;
    expect(JSON.parse(tooLarge.ResponseTemplates['application/json'] as string).error.message).toBe(UPLOAD_HINT);
    expect(UPLOAD_HINT).toContain('POST /v2/images/{image_id}/uploads');
    const fiveXx = responses.find((r) => r.ResponseType === 'DEFAULT_5XX')!;
    expect(fiveXx.ResponseTemplates['application/json']).not.toMatch(/\$context/); // never echoes internals
    expect(responses).toHaveLength(Object.keys(GATEWAY_RESPONSES).length);
  });
});

describe('quotas (skyglass:quotas)', () => {
  const quotas = { defaults: { image_count_total: 100, image_size_total: 10240 }, projects: { small: { image_count_total: 5 } } };
  const read = (value: unknown) => readQuotas((key) => ({ 'skyglass:quotas': value })[key]);

  it('reads the JSON (an object in cdk.json, or text with -c), and none means unlimited', () => {
    expect(read(quotas)).toEqual(quotas);
    expect(read(JSON.stringify(quotas))).toEqual(quotas);
    expect(read(undefined)).toBeUndefined();
    expect(readConfig(() => undefined, {}).quotas).toBeUndefined();
    expect(readConfig((key) => ({ 'skyglass:quotas': quotas })[key], {}).quotas).toEqual(quotas);
  });

  it('fails synthesis naming what is wrong', () => {
    expect(() => read('{"defaults":')).toThrow(/skyglass:quotas must be JSON/);
    expect(() => read({ defaults: { images: 1 } })).toThrow(/skyglass:quotas: defaults names "images", which is not one of image_count_total/);
    expect(() => read({ projects: { p: { image_size_total: -5 } } })).toThrow(/skyglass:quotas: projects.p.image_size_total must be a whole number/);
    const many = { projects: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`project-${i}`, { image_count_total: 1 }])) };
    expect(() => read(many)).toThrow(/bytes; the functions' environment/);
  });

  it('hands QUOTAS to the functions that use the table, and to no other', () => {
    const routes = ROUTES.filter((r) => ['createImage', 'getUsage', 'getImportInfo'].includes(r.operationId));
    const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Quotas');
    const table = new ImageTable(scope, 'Images', { production: false }).table;
    const api = new ImageApi(scope, 'Api', { stage: 'dev', table, authorizerEnvironment: {}, routes, quotas });
    const variables = Template.fromStack(scope).toJSON().Resources as Record<string, Json>;
    const env = (operationId: string) => variables[scope.getLogicalId(api.functions[operationId]!.node.defaultChild as CfnElement)]!.Properties.Environment?.Variables ?? {};
    expect(JSON.parse(env('createImage').QUOTAS)).toEqual(quotas);
    expect(JSON.parse(env('getUsage').QUOTAS)).toEqual(quotas);
    expect(env('getImportInfo').QUOTAS).toBeUndefined();
  });
});

describe('image_member_quota (skyglass:imageMemberQuota)', () => {
  const read = (value: unknown) => readImageMemberQuota((key) => ({ 'skyglass:imageMemberQuota': value })[key]);

  it('reads a whole number (negative: no limit), none means Glance\'s 128, and refuses anything else naming it', () => {
    expect(read(4)).toBe(4);
    expect(read('-1')).toBe(-1);
    expect(read(undefined)).toBeUndefined();
    expect(() => read('many')).toThrow(/skyglass:imageMemberQuota must be a whole number/);
    expect(() => read(2.5)).toThrow(/skyglass:imageMemberQuota must be a whole number/);
  });

  it('hands IMAGE_MEMBER_QUOTA to the functions that write members, and to no other', () => {
    // Bundling skipped, as everywhere but the full synthesis below: with the rooms' functions it took over a minute on a busy machine.
    const { stack: withQuota } = synthesize({ 'skyglass:imageMemberQuota': 4, 'aws:cdk:bundling-stacks': [] });
    const variables = Template.fromStack(withQuota).toJSON().Resources as Record<string, Json>;
    const env = (operationId: string) =>
      variables[withQuota.getLogicalId(withQuota.functions[operationId]!.node.defaultChild as CfnElement)]!.Properties.Environment?.Variables ?? {};
    const writers = ROUTES.filter((r) => r.access.includes('table:write-member')).map((r) => r.operationId);
    expect(writers).toEqual(expect.arrayContaining(['createImageMember', 'deleteImageMember']));
    for (const operationId of writers) expect(env(operationId).IMAGE_MEMBER_QUOTA).toBe('4');
    for (const operationId of ['listImageMembers', 'showImage', 'createImage']) expect(env(operationId).IMAGE_MEMBER_QUOTA).toBeUndefined();
  });
});

describe('provisioned concurrency (skyglass:provisionedConcurrency)', () => {
  // The API construct alone, on the two table-only routes: cheaper than another whole stack.
  const readOnly = ROUTES.filter((r) => r.operationId === 'showImage' || r.operationId === 'listImages');
  const build = (provisionedConcurrency: Record<string, number> | undefined) => {
    const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Warm');
    const table = new ImageTable(scope, 'Images', { production: false }).table;
    const api = new ImageApi(scope, 'Api', { stage: 'dev', table, authorizerEnvironment: {}, routes: readOnly, ...(provisionedConcurrency && { provisionedConcurrency }) });
    const id = (c: IConstruct) => scope.getLogicalId(c.node.defaultChild as CfnElement);
    return { api, template: Template.fromStack(scope), id };
  };

  it('gives each named function a live alias with that many environments, and API Gateway invokes the alias', () => {
    const { api, template, id } = build({ showImage: 2, authorizer: 1 });
    const show = api.functions.showImage as SkyglassFunction;
    const aliases = template.findResources('AWS::Lambda::Alias');
    expect(Object.keys(aliases)).toHaveLength(2);
    const showAlias = id(api.warmAliases.showImage as IConstruct);
    expect(aliases[showAlias]!.Properties).toMatchObject({
      Name: 'live',
      FunctionName: { Ref: id(show) },
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    const versionId = (aliases[showAlias]!.Properties.FunctionVersion as Json)['Fn::GetAtt'][0] as string;
    expect(template.toJSON().Resources[versionId]).toMatchObject({ Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: id(show) } } });

    const uriOf = (operationId: string) => {
      const route = readOnly.find((r) => r.operationId === operationId)!;
      const [, method] = Object.entries(template.findResources('AWS::ApiGateway::Method', { Properties: { OperationName: operationId } }))[0]!;
      expect((method as Json).Properties.HttpMethod).toBe(route.method);
      return JSON.stringify((method as Json).Properties.Integration.Uri);
    };
    expect(uriOf('showImage')).toContain(`{"Ref":"${showAlias}"}`);
    // listImages was not named: it is invoked as before, through the function's own ARN.
    expect(uriOf('listImages')).toContain(`{"Fn::GetAtt":["${id(api.functions.listImages as IConstruct)}","Arn"]}`);
    expect(uriOf('listImages')).not.toContain('Live');

    const authorizerAlias = id(api.warmAliases.authorizer as IConstruct);
    expect(aliases[authorizerAlias]!.Properties).toMatchObject({ FunctionName: { Ref: id(api.authorizerFunction) }, ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 1 } });
    const [, authorizer] = Object.entries(template.findResources('AWS::ApiGateway::Authorizer'))[0]!;
    expect(JSON.stringify((authorizer as Json).Properties.AuthorizerUri)).toContain(`{"Ref":"${authorizerAlias}"}`);

    // API Gateway may invoke the aliases it calls.
    const permitted = Object.values(template.findResources('AWS::Lambda::Permission')).map((p) => JSON.stringify((p as Json).Properties.FunctionName));
    expect(permitted).toContain(JSON.stringify({ Ref: showAlias }));
    expect(permitted).toContain(JSON.stringify({ Ref: authorizerAlias }));
  });

  it('creates no aliases or versions by default', () => {
    const { template } = build(undefined);
    template.resourceCountIs('AWS::Lambda::Alias', 0);
    template.resourceCountIs('AWS::Lambda::Version', 0);
  });

  it('reads a JSON object of operationIds (or authorizer) to whole numbers, and refuses anything else', () => {
    const names = [...ROUTES.map((r) => r.operationId), 'authorizer'];
    const read = (value: unknown) => readProvisionedConcurrency((key) => ({ 'skyglass:provisionedConcurrency': value })[key], names);
    expect(read(undefined)).toEqual({});
    expect(read('{"showImage":2,"listImages":0,"authorizer":3}')).toEqual({ showImage: 2, authorizer: 3 });
    // cdk.json may give it as an object.
    expect(read({ listImages: 1 })).toEqual({ listImages: 1 });
    expect(() => read('{"showImage":2')).toThrow(/must be a JSON object/);
    expect(() => read('[1]')).toThrow(/must be a JSON object/);
    expect(() => read('{"showImages":2}')).toThrow(/names "showImages", which is no operationId/);
    expect(() => read('{"showImage":1.5}')).toThrow(/showImage must be a whole number/);
    expect(() => read('{"showImage":-1}')).toThrow(/showImage must be a whole number/);
    expect(() => read('{"showImage":"2"}')).toThrow(/showImage must be a whole number/);
    expect(readConfig((key) => ({ 'skyglass:provisionedConcurrency': '{"uploadImageFile":1}' })[key], {}).provisionedConcurrency).toEqual({ uploadImageFile: 1 });
  });
});

describe('table', () => {
  it('uses the shared key design, on-demand billing, PITR, TTL and the GSIs', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    });
    const [, table] = ofType('AWS::DynamoDB::Table')[0]!;
    const gsis = table.Properties.GlobalSecondaryIndexes as Json[];
    expect(gsis).toHaveLength(Object.keys(INDEXES).length);
    for (const index of Object.values(INDEXES)) {
      expect(gsis).toContainEqual({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        // The sort twins project the id and listSk only: their entries are not rewritten by every image write.
        Projection: 'projection' in index ? { ProjectionType: 'INCLUDE', NonKeyAttributes: ['id', 'listSk'] } : { ProjectionType: 'ALL' },
      });
    }
    expect(gsis.length).toBeLessThanOrEqual(20); // DynamoDB's GSIs per table
    const attributes = (table.Properties.AttributeDefinitions as Json[]).map((a) => [a.AttributeName, a.AttributeType]);
    for (const [, type] of attributes) expect(type).toBe('S');
  });

  it('declares only the first skyglass:tableIndexes GSIs, so an older stack gains one per deploy (CloudFormation adds one per update)', () => {
    // The construct alone, in a bare stack: the table is all this is about.
    const bare = new Stack(new App(), 'Bare');
    new ImageTable(bare, 'Images', { indexes: readConfig((key) => ({ 'skyglass:tableIndexes': '8' })[key], {}).tableIndexes });
    const [table] = Object.values(Template.fromStack(bare).toJSON().Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect((table!.Properties.GlobalSecondaryIndexes as Json[]).map((i) => i.IndexName)).toEqual(Object.values(INDEXES).slice(0, 8).map((i) => i.name));
    const all = Object.keys(INDEXES).length;
    for (const bad of ['0', String(all + 1), '2.5', 'all']) {
      expect(() => readConfig((key) => ({ 'skyglass:tableIndexes': bad })[key], {}), bad).toThrow(`skyglass:tableIndexes must be a whole number from 1 to ${all}`);
    }
    expect(readConfig(() => undefined, {}).tableIndexes).toBe(all);
  });

  it('tells the functions how many indexes a table being brought up has (TABLE_INDEXES), so lists read only those; nothing with all of them', () => {
    const upgrading = synthesize({ 'aws:cdk:bundling-stacks': [], 'skyglass:tableIndexes': '8' });
    const upgradingResources = Template.fromStack(upgrading.stack).toJSON().Resources as Record<string, Json>;
    const listId = upgrading.stack.getLogicalId(upgrading.stack.functions.listImages!.node.defaultChild as CfnElement);
    expect(upgradingResources[listId]!.Properties.Environment.Variables.TABLE_INDEXES).toBe('8');
    expect(resources[functionId('listImages')]!.Properties.Environment.Variables.TABLE_INDEXES).toBeUndefined();
  });

  it('is destroyed with a non-prod stack and has no deletion protection', () => {
    const [, table] = ofType('AWS::DynamoDB::Table')[0]!;
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties.DeletionProtectionEnabled).toBe(false);
  });
});

describe('image bucket', () => {
  it('is private, encrypted, unversioned, and TLS-only', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: Match.absent(),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('has no CORS rule in the template: the console writes the one it needs (see "browser console")', () => {
    for (const [, bucket] of ofType('AWS::S3::Bucket')) expect(bucket.Properties.CorsConfiguration).toBeUndefined();
  });

  it('aborts incomplete multipart uploads after one day', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })]),
      },
    });
  });
});

describe('identity', () => {
  it('creates a Cognito user pool without self sign-up, with mutable custom project_id and roles', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Schema: Match.arrayWith([
        Match.objectLike({ Name: 'project_id', AttributeDataType: 'String', Mutable: true }),
        Match.objectLike({ Name: 'roles', AttributeDataType: 'String', Mutable: true }),
      ]),
    });
  });

  it('does not let users write their own project or roles through the app client', () => {
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    const [, client] = ofType('AWS::Cognito::UserPoolClient')[0]!;
    const writable = client.Properties.WriteAttributes as string[] | undefined;
    expect(writable, 'WriteAttributes must be explicit (absent means every attribute)').toBeDefined();
    expect(writable!.filter((a) => a.startsWith('custom:'))).toEqual([]);
    expect(client.Properties.GenerateSecret).toBe(false);
  });

  it('gives the app client the sign-in flows a CLI uses and no OAuth: no hosted-UI flows, scopes or example.com callback', () => {
    const [, client] = ofType('AWS::Cognito::UserPoolClient')[0]!;
    const p = client.Properties;
    // InitiateAuth with SRP (or the password, for scripts) and refresh: how CLIs and services get ID tokens.
    expect([...(p.ExplicitAuthFlows as string[])].sort()).toEqual(['ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH']);
    // The stack has no Cognito domain, so no OAuth flow could ever be used: none is offered.
    expect(p.AllowedOAuthFlowsUserPoolClient).not.toBe(true);
    expect(p.AllowedOAuthFlows).toBeUndefined();
    expect(p.AllowedOAuthScopes).toBeUndefined();
    expect(p.CallbackURLs).toBeUndefined();
    expect(JSON.stringify(p)).not.toContain('example.com');
    template.resourceCountIs('AWS::Cognito::UserPoolDomain', 0);
  });
});

describe('identity in Keystone mode (skyglass:keystoneUrl)', () => {
  const KEYSTONE = 'https://keystone.example.com:5000';
  const synth = synthesize({ 'aws:cdk:bundling-stacks': [], 'skyglass:keystoneUrl': KEYSTONE });
  const keystoneTemplate = Template.fromStack(synth.stack);
  const keystoneResources = keystoneTemplate.toJSON().Resources as Record<string, Json>;

  it('has the authorizer ask that Keystone, with no JWT settings and no user pool', () => {
    const authorizerId = synth.stack.getLogicalId(synth.stack.authorizerFunction.node.defaultChild as CfnElement);
    const variables = keystoneResources[authorizerId]!.Properties.Environment.Variables as Record<string, unknown>;
    expect(variables.KEYSTONE_URL).toBe(KEYSTONE);
    expect(Object.keys(variables).filter((k) => /^(JWT_|JWKS_|CLAIM_)/.test(k))).toEqual([]);
    keystoneTemplate.resourceCountIs('AWS::Cognito::UserPool', 0);
    keystoneTemplate.hasOutput('KeystoneUrl', { Value: KEYSTONE });
  });

  it('answers 401 naming the Keystone, as keystonemiddleware does', () => {
    const responses = Object.values(keystoneResources).filter((r) => r.Type === 'AWS::ApiGateway::GatewayResponse').map((r) => r.Properties as Json);
    const unauthorized = responses.find((r) => r.ResponseType === 'UNAUTHORIZED')!;
    expect(unauthorized.ResponseParameters['gatewayresponse.header.WWW-Authenticate']).toBe(`'Keystone uri="${KEYSTONE}"'`);
    expect(responses.find((r) => r.ResponseType === 'AUTHORIZER_CONFIGURATION_ERROR')!.StatusCode).toBe('503');
  });
});

describe('IAM least privilege', () => {
  const tableArn = (): Json => ({ 'Fn::GetAtt': [logicalId(stack.table), 'Arn'] });
  /** One named index of the table: Queries are granted per index, never on `index/*`. */
  const indexArn = (name: string): Json => ({ 'Fn::Join': ['', [tableArn(), `/index/${name}`]] });

  /**
   * What each Access kind must grant and on what, written out here rather than read from the
   * stack, so the stack is checked against the intent. Typed by Access: a new kind fails to compile until it is added.
   */
  const EXPECTED_GRANTS: Record<Access, { actions: string[]; on: () => (Json | string)[]; condition?: Json }[]> = {
    // Every image write is one conditional PutItem, in a transaction with UpdateItems of the
    // usage counters when it changes quota usage (the repository never deletes items).
    'table:read': [{ actions: ['dynamodb:GetItem'], on: () => [tableArn()] }],
    'table:write': [{ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], on: () => [tableArn()] }],
    'table:insert': [{ actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], on: () => [tableArn()] }],
    // The list indexes, and BatchGetItem of the images found on the sort twins and shares partitions (not byMember: no list reads it).
    'table:list': [
      { actions: ['dynamodb:BatchGetItem'], on: () => [tableArn()] },
      {
        actions: ['dynamodb:Query'],
        on: () =>
          [
            'byOwner', 'byVisibility', 'all', 'byOwnerName', 'byVisibilityName', 'allByName',
            ...['Updated', 'Size', 'Status', 'Tag'].flatMap((key) => [`byOwner${key}`, `byVisibility${key}`, `allBy${key}`]),
          ].map(indexArn),
      },
    ],
    // The members API reads one image's partition in one call, and writes one transaction.
    'table:read-members': [{ actions: ['dynamodb:BatchGetItem'], on: () => [tableArn()] }],
    'table:list-members': [{ actions: ['dynamodb:Query'], on: () => [tableArn()] }],
    'table:write-member': [{ actions: ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'], on: () => [tableArn()] }],
    // An image's tasks are in its partition (one Query on the table); the task list is on `all`.
    'table:image-tasks': [{ actions: ['dynamodb:Query'], on: () => [tableArn()] }],
    'table:list-tasks': [{ actions: ['dynamodb:Query'], on: () => [indexArn('all')] }],
    // An image's memberships (one Query of its partition on the table) and each one's copies of its list keys.
    'table:share-copies': [{ actions: ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], on: () => [tableArn()] }],
    // The sweepers' candidates (byStatus) and the audit's page through every live image (all): no Scan.
    'table:sweep': [{ actions: ['dynamodb:Query'], on: () => ['byStatus', 'all'].map(indexArn) }],
    // The metadefs catalogue: one partition per read; conditional writes, and the purge's batch deletes.
    // Only on metadefs keys (METADEFS, METADEF#<uuid>): never an image item (test/infra/route-room.test.ts checks the room's functions).
    'metadefs:read': [{ actions: ['dynamodb:GetItem', 'dynamodb:Query'], on: () => [tableArn()], condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['METADEF*'] } } }],
    'metadefs:write': [{ actions: ['dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], on: () => [tableArn()], condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['METADEF*'] } } }],
    'bucket:read': [{ actions: ['s3:GetObject'], on: () => [imagesArn()] }],
    'bucket:write': [{ actions: ['s3:PutObject'], on: () => [imagesArn()] }],
    'bucket:delete': [{ actions: ['s3:DeleteObject'], on: () => [imagesArn()] }],
    // PutObject covers CreateMultipartUpload, UploadPart (the presigned part URLs) and CompleteMultipartUpload.
    'bucket:multipart': [{ actions: ['s3:PutObject'], on: () => [imagesArn()] }],
    'bucket:parts': [{ actions: ['s3:ListMultipartUploadParts'], on: () => [imagesArn()] }],
    'bucket:abort': [{ actions: ['s3:AbortMultipartUpload'], on: () => [imagesArn()] }],
    // The one bucket-level grant, and only for listings under images/.
    'bucket:list': [{ actions: ['s3:ListBucket'], on: () => [bucketArn()], condition: LIST_CONDITION }],
    'bucket:list-uploads': [{ actions: ['s3:ListBucketMultipartUploads'], on: () => [bucketArn()] }],
    'workflow:verify': [{ actions: ['states:StartExecution'], on: () => [{ Ref: logicalId(stack.verifier) }] }],
    'workflow:scrub': [{ actions: ['states:StartExecution'], on: () => [{ Ref: logicalId(stack.scrubber) }] }],
    'workflow:stop-scrub': [
      // Restore stops the scrub of one image version: executions of the scrubber only.
      {
        actions: ['states:StopExecution'],
        on: () => [
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':execution:', { 'Fn::GetAtt': [logicalId(stack.scrubber), 'Name'] }, ':*'],
            ],
          },
        ],
      },
    ],
    // The sweeper's re-drive: which executions still run, and a new one for each that was lost.
    'workflow:redrive-verify': [{ actions: ['states:StartExecution', 'states:ListExecutions'], on: () => [{ Ref: logicalId(stack.verifier) }] }],
    'workflow:redrive-scrub': [{ actions: ['states:StartExecution', 'states:ListExecutions'], on: () => [{ Ref: logicalId(stack.scrubber) }] }],
    'events:publish': [{ actions: ['events:PutEvents'], on: () => [{ 'Fn::GetAtt': [logicalId(stack.eventBus), 'Arn'] }] }],
    // What a stream event source mapping reads with: this table's stream, plus ListStreams (no resource level).
    'table:stream': [
      { actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], on: () => [{ 'Fn::GetAtt': [logicalId(stack.table), 'StreamArn'] }] },
      { actions: ['dynamodb:ListStreams'], on: () => ['*'] },
    ],
  };
  /** Grants that come with how a function is invoked, not with what it does: the relay reports records it gave up on to its dead-letter queue. */
  const INVOCATION_GRANTS: Record<string, { actions: string[]; on: () => (Json | string)[] }[]> = {
    publishEvents: [
      { actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], on: () => [{ 'Fn::GetAtt': [logicalId(stack.eventRelay.deadLetterQueue), 'Arn'] }] },
    ],
  };

  const pair = (action: string, resource: unknown, condition?: Json): string =>
    `${action} on ${JSON.stringify(resource)}${condition ? ` if ${JSON.stringify(condition)}` : ''}`;
  /** Every (action, resource, condition) a function's role allows; denials would fail the test. */
  const grantedPairs = (fnLogicalId: string): string[] => {
    const pairs = new Set<string>();
    for (const statement of roleStatements(fnLogicalId)) {
      expect(statement.Effect).toBe('Allow');
      for (const action of asArray(statement.Action)) {
        for (const resource of asArray(statement.Resource as Json | Json[])) pairs.add(pair(action, resource, statement.Condition));
      }
    }
    return [...pairs];
  };
  const dynamoActionsOf = (fnLogicalId: string): string[] => actionsOf(roleStatements(fnLogicalId)).filter((a) => a.startsWith('dynamodb:'));

  const allowStatements = (): { where: string; statement: Statement }[] => {
    const out: { where: string; statement: Statement }[] = [];
    for (const [id, r] of Object.entries(resources)) {
      const docs: Json[] = [];
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(r.Properties.PolicyDocument);
      if (r.Type === 'AWS::IAM::Role') for (const p of asArray(r.Properties.Policies as Json[])) docs.push(p.PolicyDocument);
      if (['AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy'].includes(r.Type as string)) docs.push(r.Properties.PolicyDocument);
      for (const doc of docs) for (const statement of doc.Statement as Statement[]) if (statement.Effect === 'Allow') out.push({ where: id, statement });
    }
    return out;
  };

  it('grants no Allow with action *, dynamodb:*, s3:*, states:* or lambda:* anywhere', () => {
    const statements = allowStatements();
    expect(statements.length).toBeGreaterThan(0);
    for (const { where, statement } of statements) {
      expect(statement.NotAction, where).toBeUndefined();
      expect(statement.NotResource, where).toBeUndefined();
      for (const action of asArray(statement.Action)) {
        expect(['*', 'dynamodb:*', 's3:*', 'states:*', 'lambda:*'], `${where}: ${action}`).not.toContain(action);
        for (const service of ['dynamodb:', 'states:', 'lambda:']) expect(action.startsWith(service) && action.includes('*'), `${where}: ${action}`).toBe(false);
      }
    }
    // The only Deny-with-s3:* is the TLS-only guard (checked above), which restricts rather than grants.
  });

  it('scopes every S3 grant to image objects (<bucket>/images/*), ListBucket to the bucket with the images/ prefix condition, and open-upload listing to the auditor', () => {
    const autoDeleteRole = Object.keys(resources).find((id) => id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderRole'));
    let granted = 0;
    let listed = 0;
    let listsUploads = 0;
    for (const { where, statement } of allowStatements()) {
      const actions = asArray(statement.Action);
      if (!actions.some((a) => a.startsWith('s3:'))) continue;
      if (resources[where]!.Type === 'AWS::S3::BucketPolicy') {
        // CDK's autoDeleteObjects provider (non-prod stacks only) empties the bucket on stack deletion.
        expect(autoDeleteRole).toBeDefined();
        expect(statement.Principal, where).toEqual({ AWS: { 'Fn::GetAtt': [autoDeleteRole, 'Arn'] } });
        continue;
      }
      if (actions.includes('s3:ListBucket')) {
        // Alone in its statement, on the bucket ARN, never without the prefix condition.
        listed++;
        expect(actions, where).toEqual(['s3:ListBucket']);
        expect(asArray(statement.Resource as Json | Json[]), where).toEqual([bucketArn()]);
        expect(statement.Condition, where).toEqual(LIST_CONDITION);
        continue;
      }
      if (actions.includes('s3:ListBucketMultipartUploads')) {
        // The auditor's view of open uploads (keys and ids, no bytes): alone, on the bucket ARN.
        expect(actions, where).toEqual(['s3:ListBucketMultipartUploads']);
        expect(asArray(statement.Resource as Json | Json[]), where).toEqual([bucketArn()]);
        listsUploads++;
        continue;
      }
      granted++;
      expect(statement.Condition, where).toBeUndefined();
      expect(asArray(statement.Resource as Json | Json[]), where).toEqual([imagesArn()]);
    }
    expect(granted).toBeGreaterThan(0);
    // Exactly the functions declaring bucket:list list the bucket.
    expect(listed).toBe(declared().filter((d) => d.access.includes('bucket:list')).length);
    expect(listed).toBeGreaterThan(0);
    expect(listsUploads).toBe(declared().filter((d) => d.access.includes('bucket:list-uploads')).length);
    expect(listsUploads).toBeGreaterThan(0);
  });

  it('gives no table permission to functions whose route has no access (versions, schemas, authorizer, fallback)', () => {
    const none = ROUTES.filter((r) => r.access.length === 0);
    expect(none.map((r) => r.operationId)).toEqual(expect.arrayContaining(['getVersionsRoot', 'listVersions', 'getSchema']));
    for (const route of none) expect(dynamoActions(route.operationId), route.operationId).toEqual([]);
    for (const fn of [stack.authorizerFunction, stack.fallbackFunction]) {
      expect(actionsOf(roleStatements(logicalId(fn))).filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
    }
  });

  it('gives read-only routes (listImages, showImage, the member reads) reads and no writes', () => {
    expect(dynamoActions('showImage')).toEqual(['dynamodb:GetItem']);
    expect(dynamoActions('listImages').sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query']);
    expect(dynamoActions('showImageMember')).toEqual(['dynamodb:BatchGetItem']);
    expect(dynamoActions('listImageMembers')).toEqual(['dynamodb:Query']);
    for (const operationId of ['listImages', 'showImage', 'showImageMember', 'listImageMembers']) {
      for (const write of [...WRITE_ACTIONS, 'dynamodb:ConditionCheckItem', 'dynamodb:BatchWriteItem']) expect(dynamoActions(operationId)).not.toContain(write);
    }
  });

  it('gives table writers PutItem and UpdateItem (the usage counters) only (no DeleteItem or ConditionCheckItem they never use), and create no read', () => {
    const writers = declared().filter((d) => d.access.includes('table:write') || d.access.includes('table:insert'));
    expect(writers.length).toBeGreaterThan(10);
    for (const { name, id } of writers) {
      const actions = dynamoActionsOf(id);
      expect(actions, name).toContain('dynamodb:PutItem');
      expect(actions, name).toContain('dynamodb:UpdateItem');
      for (const unused of ['dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem']) {
        expect(actions, name).not.toContain(unused);
      }
    }
    expect(dynamoActions('createImage').sort()).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem']);
  });

  it('lets delete and scrub-now start the scrubber and restore stop it, and none do both', () => {
    const statesActions = (operationId: string) => actionsOf(roleStatements(functionId(operationId))).filter((a) => a.startsWith('states:')).sort();
    expect(statesActions('deleteImage')).toEqual(['states:StartExecution']);
    expect(statesActions('scrubImageNow')).toEqual(['states:StartExecution']);
    expect(statesActions('restoreImage')).toEqual(['states:StopExecution']);
  });

  it('gives each upload function only the multipart actions it performs', () => {
    const s3Actions = (operationId: string) => [...new Set(actionsOf(roleStatements(functionId(operationId))).filter((a) => a.startsWith('s3:')))].sort();
    // Create, presign the parts; abort when its own write loses (nothing left behind at S3).
    expect(s3Actions('createImageUpload')).toEqual(['s3:AbortMultipartUpload', 's3:PutObject']);
    // Resume: what S3 holds, and fresh part URLs (signed for s3:PutObject).
    expect(s3Actions('getImageUpload')).toEqual(['s3:ListMultipartUploadParts', 's3:PutObject']);
    // Abort only.
    expect(s3Actions('abortImageUpload')).toEqual(['s3:AbortMultipartUpload']);
    expect(s3Actions('completeImageUpload')).toEqual(['s3:ListBucket', 's3:ListMultipartUploadParts', 's3:PutObject']);
    // The web-download fetcher: its upload, the parts a later run lists to resume it, the abort of a failed one; no read, no listing.
    expect([...new Set(actionsOf(roleStatements(workerId('fetchImage'))).filter((a) => a.startsWith('s3:')))].sort()).toEqual(['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObject']);
  });

  it('grants every route and worker exactly the actions and resources its declared access maps to', () => {
    const kinds = new Set<Access>();
    for (const { name, id, access } of declared()) {
      access.forEach((kind) => kinds.add(kind));
      const fn = resources[id]!;
      const expected = new Set<string>([
        // House grants of every function: its own log group and X-Ray (no resource-level permissions).
        ...['logs:CreateLogStream', 'logs:PutLogEvents'].map((a) => pair(a, { 'Fn::GetAtt': [fn.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] })),
        ...['xray:PutTelemetryRecords', 'xray:PutTraceSegments'].map((a) => pair(a, '*')),
      ]);
      for (const kind of access) for (const { actions, on, condition } of EXPECTED_GRANTS[kind]) for (const a of actions) for (const r of on()) expected.add(pair(a, r, condition));
      for (const { actions, on } of INVOCATION_GRANTS[name] ?? []) for (const a of actions) for (const r of on()) expected.add(pair(a, r));
      expect(grantedPairs(id).sort(), name).toEqual([...expected].sort());
      // The sweepers read the sparse byStatus index: nothing ever scans the table.
      expect(dynamoActionsOf(id), name).not.toContain('dynamodb:Scan');
    }
    // The tables above cover every kind some route or worker uses (and the types cover all kinds).
    expect([...kinds].sort()).toEqual(
      expect.arrayContaining(['bucket:abort', 'bucket:list', 'bucket:list-uploads', 'bucket:multipart', 'bucket:parts', 'bucket:read', 'events:publish', 'table:insert', 'table:list', 'table:list-members', 'table:read-members', 'table:share-copies', 'table:stream', 'table:sweep', 'table:write-member', 'workflow:redrive-scrub', 'workflow:redrive-verify', 'workflow:scrub', 'workflow:stop-scrub', 'workflow:verify']),
    );
    for (const fn of [stack.authorizerFunction, stack.fallbackFunction]) {
      expect(grantedPairs(logicalId(fn)).filter((p) => !/^(logs|xray):/.test(p)), fn.node.id).toEqual([]);
    }
  });

  it("grants the data front's task role exactly what DATA_FRONT.access maps to (the Lambdas' mapping), and its execution role no data", () => {
    const front = frontVariant();
    const frontId = (c: IConstruct) => front.stack.getLogicalId(c.node.defaultChild as CfnElement);
    const pairs = new Set<string>();
    for (const statement of statementsOfRole(front.resources, frontId(front.stack.dataFront!.taskRole))) {
      expect(statement.Effect).toBe('Allow');
      for (const action of asArray(statement.Action)) for (const resource of asArray(statement.Resource as Json | Json[])) pairs.add(pair(action, resource, statement.Condition));
    }
    const expected = new Set<string>();
    // Its routes' access, plus what streaming into a multipart upload needs (no other kind, no house grant: it writes no log itself).
    expect(DATA_FRONT.access).toEqual(expect.arrayContaining(['bucket:multipart', 'bucket:abort']));
    for (const kind of DATA_FRONT.access) for (const { actions, on, condition } of EXPECTED_GRANTS[kind]) for (const a of actions) for (const r of on()) expected.add(pair(a, r, condition));
    expect([...pairs].sort()).toEqual([...expected].sort());
    // The small-body Lambdas never stream in AWS: no abort of a multipart upload for them any more.
    for (const operationId of ['uploadImageFile', 'stageImageData']) expect(actionsOf(roleStatements(functionId(operationId))), operationId).not.toContain('s3:AbortMultipartUpload');
    // The execution role pulls the image and writes the container's logs; nothing of the product's data.
    const executionRole = front.stack.dataFront!.taskDefinition.executionRole!;
    const executionActions = actionsOf(statementsOfRole(front.resources, frontId(executionRole)));
    expect(executionActions.filter((a) => !/^(ecr|logs):/.test(a))).toEqual([]);
  });

  it('refuses an unknown access kind at synth time, and bucket or workflow access without its target', () => {
    const scratch = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const scratchStack = new Stack(scratch, 'Grants');
    const table = new ImageTable(scratchStack, 'Images', {}).table;
    const fn = new SkyglassFunction(scratchStack, 'Fn', { handlerPath: FALLBACK_HANDLER });
    expect(() => fn.grantAccess(['table:read', 'bucket:everything' as Access], { table })).toThrow(/unknown access kind "bucket:everything"/);
    expect(() => fn.grantAccess(['bucket:read'], { table })).toThrow(/needs the image bucket/);
    expect(() => fn.grantAccess(['bucket:abort'], { table })).toThrow(/bucket:abort needs the image bucket/);
    expect(() => fn.grantAccess(['bucket:list'], { table })).toThrow(/bucket:list needs the image bucket/);
    expect(() => fn.grantAccess(['workflow:verify'], { table })).toThrow(/needs the verifier state machine/);
    expect(() => fn.grantAccess(['workflow:scrub'], { table })).toThrow(/needs the scrubber state machine/);
    expect(() => fn.grantAccess(['workflow:redrive-verify'], { table })).toThrow(/needs the verifier state machine/);
    expect(() => fn.grantAccess(['workflow:redrive-scrub'], { table })).toThrow(/needs the scrubber state machine/);
    expect(() => fn.grantAccess(['workflow:stop-scrub'], { table })).toThrow(/needs the scrubber state machine/);
    expect(() => fn.grantAccess(['events:publish'], { table })).toThrow(/needs the image event bus/);
  });

  it('scopes table permissions to the table and its named indexes only, Queries to indexes (one image\'s partition for list-members) and item access to the table', () => {
    const indexes = Object.values(INDEXES).map((index) => indexArn(index.name));
    for (const { name, id, access } of declared().filter((d) => !d.access.includes('table:stream'))) {
      for (const statement of roleStatements(id)) {
        const actions = asArray(statement.Action);
        if (!actions.some((a) => a.startsWith('dynamodb:'))) continue;
        const resourcesOf = asArray(statement.Resource as Json | Json[]);
        if (actions.includes('dynamodb:Query')) {
          expect(actions, name).toEqual(['dynamodb:Query']);
          const queryable = access.includes('table:list-members') || access.includes('table:image-tasks') ? [...indexes, tableArn()] : indexes;
          for (const resource of resourcesOf) expect(queryable, name).toContainEqual(resource);
        } else {
          expect(resourcesOf, name).toEqual([tableArn()]);
        }
      }
    }
  });

  it('uses no AWS managed policies on application roles (logs are granted on the function\'s own log group)', () => {
    // The rooms' functions included, each in its own (nested) template.
    for (const fn of [...Object.values(stack.functions), ...Object.values(stack.workers), stack.authorizerFunction, stack.fallbackFunction]) {
      const role = resourceOf(fn.serviceRole);
      expect(role.resource.Properties.ManagedPolicyArns, fn.node.path).toBeUndefined();
      const logStatement = statementsOfRole(role.resources, role.id).find((s) => asArray(s.Action).includes('logs:PutLogEvents'));
      expect(logStatement?.Resource, fn.node.path).toEqual({ 'Fn::GetAtt': [resourceOf(fn.functionLogGroup).id, 'Arn'] });
    }
  });
});

describe('data front (skyglass:dataFront)', () => {
  const frontOf = () => frontVariant();
  const ofTypeIn = (all: Record<string, Json>, type: string): [string, Json][] => Object.entries(all).filter(([, r]) => r.Type === type);
  const only = (type: string): Json => {
    const found = ofTypeIn(frontOf().resources, type);
    expect(found.map(([id]) => id), type).toHaveLength(1);
    return found[0]![1];
  };

  it('is off by default: the stack stays purely serverless (no VPC, ECS, load balancer or CloudFront)', () => {
    expect(readConfig(() => undefined, {}).dataFront).toBe(false);
    expect(readConfig((key) => ({ 'skyglass:dataFront': 'true' })[key], {}).dataFront).toBe(true);
    expect(() => readConfig((key) => ({ 'skyglass:dataFront': 'maybe' })[key], {})).toThrow(/skyglass:dataFront must be a boolean/);
    expect(stack.dataFront).toBeUndefined();
    const types = new Set(Object.values(resources).map((r) => r.Type as string));
    expect([...types].filter((t) => /^AWS::(EC2|ECS|ElasticLoadBalancingV2|CloudFront|ApplicationAutoScaling)::/.test(t))).toEqual([]);
    expect(template.toJSON().Outputs).not.toHaveProperty('DataFrontUrl');
  });

  it('runs the front on ECS Fargate ARM64 from an image asset, without a public IP, draining within the stop timeout', () => {
    const task = only('AWS::ECS::TaskDefinition').Properties;
    expect(task.RequiresCompatibilities).toEqual(['FARGATE']);
    expect(task.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    expect(task.TaskRoleArn).toEqual({ 'Fn::GetAtt': [frontOf().stack.getLogicalId(frontOf().stack.dataFront!.taskRole.node.defaultChild as CfnElement), 'Arn'] });
    const [container, ...others] = task.ContainerDefinitions as Json[];
    expect(others).toEqual([]);
    // A DockerImageAsset: built and pushed by cdk deploy, not at synthesis.
    expect(JSON.stringify(container!.Image)).toContain('container-assets');
    expect(container!.PortMappings).toEqual([{ ContainerPort: 8080, Protocol: 'tcp' }]);
    expect(container!.StopTimeout).toBe(120);
    expect(container!.ReadonlyRootFilesystem).toBe(true);
    expect(container!.LogConfiguration.LogDriver).toBe('awslogs');
    const logGroup = frontOf().resources[container!.LogConfiguration.Options['awslogs-group'].Ref as string]!;
    expect(logGroup.Properties.RetentionInDays).toBe(30);
    const service = only('AWS::ECS::Service').Properties;
    expect(service.LaunchType).toBe('FARGATE');
    expect(service.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    expect(service.DeploymentConfiguration.DeploymentCircuitBreaker).toEqual({ Enable: true, Rollback: true });
    const cluster = only('AWS::ECS::Cluster').Properties;
    expect(cluster.ClusterSettings).toEqual([{ Name: 'containerInsights', Value: 'enabled' }]);
  });

  it('gives the front the environment its Lambdas get (table, bucket, lifetimes, quotas) and the authorizer\'s', () => {
    const env = Object.fromEntries(((only('AWS::ECS::TaskDefinition').Properties.ContainerDefinitions as Json[])[0]!.Environment as Json[]).map((e) => [e.Name, e.Value]));
    const lambdaEnv = (id: string): Json => frontOf().resources[id]!.Properties.Environment.Variables as Json;
    const front = frontOf().stack;
    const id = (c: IConstruct) => front.getLogicalId(c.node.defaultChild as CfnElement);
    for (const operationId of DATA_FRONT.operations) {
      for (const [name, value] of Object.entries(lambdaEnv(id(front.functions[operationId]!)))) expect(env[name], `${operationId}: ${name}`).toEqual(value);
    }
    for (const [name, value] of Object.entries(lambdaEnv(id(front.authorizerFunction)))) expect(env[name], `authorizer: ${name}`).toEqual(value);
    expect(JSON.parse(env.QUOTAS)).toEqual(FRONT_QUOTAS);
    expect(env.AUTHORIZER_CACHE_SECONDS).toBe('300');
    expect(env.AWS_REGION).toEqual({ Ref: 'AWS::Region' });
    expect(env.PORT).toBe('8080');
    // Idle connections outlive the ALB's idle timeout (else the ALB reuses one the front is closing: a 502),
    // and uploads in flight get their grace within ECS's stop timeout.
    const alb = Object.fromEntries((only('AWS::ElasticLoadBalancingV2::LoadBalancer').Properties.LoadBalancerAttributes as Json[]).map((a) => [a.Key, a.Value]));
    expect(Number(env.KEEP_ALIVE_SECONDS)).toBeGreaterThan(Number(alb['idle_timeout.timeout_seconds']));
    const stopTimeout = (only('AWS::ECS::TaskDefinition').Properties.ContainerDefinitions as Json[])[0]!.StopTimeout as number;
    expect(Number(env.STOP_GRACE_SECONDS)).toBeGreaterThan(0);
    expect(Number(env.STOP_GRACE_SECONDS)).toBeLessThan(stopTimeout);
  });

  it("sits behind an internal ALB, reachable from its VPC only, whose health check is the front's", () => {
    const alb = only('AWS::ElasticLoadBalancingV2::LoadBalancer').Properties;
    expect(alb.Scheme).toBe('internal');
    const attributes = Object.fromEntries((alb.LoadBalancerAttributes as Json[]).map((a) => [a.Key, a.Value]));
    // Longer than CloudFront's origin read timeout (120 s), so the ALB never drops a request CloudFront still waits on.
    expect(Number(attributes['idle_timeout.timeout_seconds'])).toBeGreaterThan(120);
    expect(attributes['routing.http.drop_invalid_header_fields.enabled']).toBe('true');
    const group = only('AWS::ElasticLoadBalancingV2::TargetGroup').Properties;
    expect(group.HealthCheckPath).toBe(DATA_FRONT.healthPath);
    expect(HEALTH_PATH).toBe(DATA_FRONT.healthPath);
    expect(group.Port).toBe(8080);
    expect(group.TargetType).toBe('ip');
    const ingress = ofTypeIn(frontOf().resources, 'AWS::EC2::SecurityGroup').flatMap(([, sg]) => asArray(sg.Properties.SecurityGroupIngress as Json[]));
    const vpc = only('AWS::EC2::VPC').Properties;
    expect(ingress.map((rule) => rule.CidrIp)).toEqual([vpc.CidrBlock]);
    expect(ofTypeIn(frontOf().resources, 'AWS::EC2::SecurityGroupIngress').map(([, rule]) => rule.Properties.FromPort)).toEqual([8080]);
    // DynamoDB and S3 (the bytes) through gateway endpoints, not the NAT gateway.
    const endpoints = ofTypeIn(frontOf().resources, 'AWS::EC2::VPCEndpoint').map(([, e]) => JSON.stringify(e.Properties.ServiceName));
    expect(endpoints.some((name) => name.includes('.s3'))).toBe(true);
    expect(endpoints.some((name) => name.includes('.dynamodb'))).toBe(true);
    expect(ofTypeIn(frontOf().resources, 'AWS::EC2::NatGateway')).toHaveLength(1);
  });

  it('keeps one endpoint: CloudFront sends exactly the data paths to the front, every other path to the REST API', () => {
    const config = only('AWS::CloudFront::Distribution').Properties.DistributionConfig;
    const origin = (originId: string): Json => (config.Origins as Json[]).find((o) => o.Id === originId)!;
    const behaviors = config.CacheBehaviors as Json[];
    expect(behaviors.map((b) => b.PathPattern).sort()).toEqual([...DATA_FRONT.pathPatterns].sort());
    for (const behavior of [...behaviors, config.DefaultCacheBehavior as Json]) {
      expect(behavior.ViewerProtocolPolicy).toBe('https-only');
      expect(behavior.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE']));
      // Managed policies: CachingDisabled, and AllViewerExceptHostHeader (X-Auth-Token, Content-Type... reach the origin).
      expect(behavior.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
      expect(behavior.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac');
      const target = origin(behavior.TargetOriginId as string);
      if (behavior.PathPattern) {
        expect(target.VpcOriginConfig.OriginReadTimeout).toBe(120);
        expect(target.DomainName).toEqual({ 'Fn::GetAtt': [frontOf().stack.getLogicalId(frontOf().stack.dataFront!.loadBalancer.node.defaultChild as CfnElement), 'DNSName'] });
      } else {
        expect(JSON.stringify(target.DomainName)).toContain('.execute-api.');
        expect(target.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
      }
    }
    // The REST API's behavior passes the viewer's host on, so the links the API builds name this endpoint.
    const associations = (config.DefaultCacheBehavior as Json).FunctionAssociations as Json[];
    expect(associations.map((a) => a.EventType)).toEqual(['viewer-request']);
    const fn = frontOf().resources[associations[0]!.FunctionARN['Fn::GetAtt'][0] as string]!.Properties;
    expect(fn.FunctionCode).toBe(VIEWER_HOST_FUNCTION);
    const handler = new Function(`${VIEWER_HOST_FUNCTION}; return handler;`)() as (event: Json) => Json;
    expect(handler({ request: { headers: { host: { value: 'd111.cloudfront.net' } } } }).headers['x-forwarded-host']).toEqual({ value: 'd111.cloudfront.net' });
    for (const behavior of behaviors) expect(behavior.FunctionAssociations, behavior.PathPattern).toBeUndefined();
    // CloudFront's patterns (* and ? wildcards) against every route, for a real image id: only the front's paths match.
    const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    const id = '3f1b7c2e-9a4d-4e5f-8b6a-0c1d2e3f4a5b';
    const routed = ROUTES.filter((r) => {
      const path = r.path.replace('{image_id}', id).replace(/\{[a-z_]+\}/g, 'file');
      return behaviors.some((b) => glob(b.PathPattern as string).test(path));
    });
    expect(routed.map((r) => r.operationId).sort()).toEqual([...DATA_FRONT.operations].sort());
    expect(template.toJSON().Outputs).not.toHaveProperty('DataFrontUrl');
    const outputs = Template.fromStack(frontOf().stack).toJSON().Outputs as Json;
    expect(outputs.DataFrontUrl.Value).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [frontOf().stack.getLogicalId(frontOf().stack.dataFront!.distribution.node.defaultChild as CfnElement), 'DomainName'] }]] });
  });

  it('scales on active connections per task (ALB metrics) and on CPU', () => {
    const target = only('AWS::ApplicationAutoScaling::ScalableTarget').Properties;
    expect([target.MinCapacity, target.MaxCapacity]).toEqual([1, 4]);
    const policies = ofTypeIn(frontOf().resources, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(([, p]) => p.Properties);
    expect(policies.filter((p) => p.PolicyType === 'StepScaling')).toHaveLength(2);
    expect(policies.find((p) => p.PolicyType === 'TargetTrackingScaling')?.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType).toBe('ECSServiceAverageCPUUtilization');
    const alarms = ofTypeIn(frontOf().resources, 'AWS::CloudWatch::Alarm').map(([, a]) => JSON.stringify(a.Properties));
    const scalingAlarms = alarms.filter((a) => a.includes('ActiveConnectionCount'));
    expect(scalingAlarms).toHaveLength(2);
    for (const alarm of scalingAlarms) expect(alarm).toContain('RunningTaskCount');
    // Unhealthy tasks and 5xx notify the stack's alarm topic.
    const notified = alarms.filter((a) => a.includes('UnHealthyHostCount') || a.includes('HTTPCode_Target_5XX_Count'));
    expect(notified).toHaveLength(2);
    for (const alarm of notified) expect(alarm).toContain(frontOf().stack.getLogicalId(frontOf().stack.alarmTopic!.node.defaultChild as CfnElement));
  });

  it('builds its image from a Node 24 Dockerfile and one esbuild bundle, made at synthesis (docker only copies it in at deploy)', () => {
    const front = frontOf();
    const assembly = front.app.synth({ validateOnSynthesis: false });
    const manifest = JSON.parse(readFileSync(path.join(assembly.directory, `${front.stack.artifactId}.assets.json`), 'utf8')) as Json;
    const images = Object.values(manifest.dockerImages as Json).map((image) => image.source as Json);
    expect(images.map((source) => source.platform)).toEqual(['linux/arm64']);
    const context = path.join(assembly.directory, images[0]!.directory as string);
    expect(readdirSync(context).sort()).toEqual(['Dockerfile', 'index.mjs']);
    const dockerfile = readFileSync(path.join(context, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM public\.ecr\.aws\/docker\/library\/node:24-alpine$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    // With the front's Node flags (a small young generation: bench section 5's peak RSS).
    expect(dockerfile).toMatch(/^CMD \["node", "--max-semi-space-size=2", "index\.mjs"\]$/m);
    // The bundle itself (skipped in this synthesis, as the Lambdas' are): one ESM file whose SDK
    // takes the task role's credentials from the container endpoint, which the Lambdas' provider cannot.
    const dir = mkdtempSync(path.join(tmpdir(), 'skyglass-front-bundle-'));
    try {
      const code = readFileSync(bundleDataFront(dir), 'utf8');
      expect(readdirSync(dir)).toEqual(['index.mjs']);
      expect(code.startsWith("import { createRequire } from 'module';")).toBe(true);
      expect(code).toContain('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes cdk-nag, acknowledging only listed rules with reasons', () => {
    const front = frontOf();
    const report = new AwsSolutionsChecks(front.app).validateScope(front.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    const FRONT_ACKS = new Map([
      ['AwsSolutions-ECS2', 'Task'],
      ['AwsSolutions-ELB2', 'LoadBalancer'],
      ['AwsSolutions-CFR1', 'Distribution'],
      ['AwsSolutions-CFR2', 'Distribution'],
      ['AwsSolutions-CFR3', 'Distribution'],
      ['AwsSolutions-CFR4', 'Distribution'],
      ['AwsSolutions-IAM5[Resource::*]', 'Task/ExecutionRole'],
      [`AwsSolutions-IAM5[Resource::<${front.stack.getLogicalId(front.stack.bucket.node.defaultChild as CfnElement)}.Arn>/images/*]`, 'TaskRole'],
    ]);
    const acks = front.stack.dataFront!.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([ruleId, reason]) => ({ path: c.node.path, id: ruleId.replace(/^annotation::/i, ''), reason }))),
    ).filter((ack) => ack.id.startsWith('AwsSolutions-')); // aws-cdk-lib acknowledges some of its own CloudFormation-Validate rules
    expect(acks.map((a) => a.id).sort()).toEqual([...FRONT_ACKS.keys()].sort());
    for (const ack of acks) {
      expect(ack.path, ack.id).toBe(`SkyglassTest/DataFront/${FRONT_ACKS.get(ack.id)}`);
      expect(ack.reason.length, ack.id).toBeGreaterThanOrEqual(40);
    }
    // The wildcard acknowledged on the execution role covers ecr:GetAuthorizationToken alone (no resource-level permissions).
    const executionRole = front.stack.dataFront!.taskDefinition.executionRole!;
    const wildcard = statementsOfRole(front.resources, front.stack.getLogicalId(executionRole.node.defaultChild as CfnElement)).filter((s) => JSON.stringify(s.Resource).includes('"*"') || s.Resource === '*');
    expect(wildcard.flatMap((s) => asArray(s.Action))).toEqual(['ecr:GetAuthorizationToken']);
  });
});

describe('state machines', () => {
  /** Each state machine, the worker its definition runs, and the shared definition it deploys. */
  const MACHINES = () => [
    // The verifier runs the web-download fetcher first when its input has a uri.
    { name: 'verifier', machine: stack.verifier, workers: ['verifyImage', 'fetchImage'], definition: verifierDefinition },
    { name: 'scrubber', machine: stack.scrubber, workers: ['scrubImage'], definition: scrubberDefinition },
  ];
  const machineResource = (machine: IConstruct): Json => resources[logicalId(machine)]!;
  const fnArn = (worker: string): Json => ({ 'Fn::GetAtt': [workerId(worker), 'Arn'] });
  const fakeLambdaArn = (id: string) => `arn:aws:lambda:us-east-1:123456789012:function:${id}`;

  /** A CloudFormation value as the deployed string: literals, Fn::Join, and function ARNs (made up, but well-formed). */
  const resolve = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Json;
    if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(resolve).join(v['Fn::Join'][0] as string);
    const getAtt = v['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt && getAtt[1] === 'Arn' && resources[getAtt[0]]?.Type === 'AWS::Lambda::Function') return fakeLambdaArn(getAtt[0]);
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  };

  /** The definition Step Functions runs: DefinitionString with DefinitionSubstitutions applied. */
  const deployedDefinition = (machine: IConstruct): Json => {
    const sm = machineResource(machine);
    let text = resolve(sm.Properties.DefinitionString);
    for (const [key, value] of Object.entries((sm.Properties.DefinitionSubstitutions ?? {}) as Json)) text = text.split(`\${${key}}`).join(resolve(value));
    expect(text, 'every placeholder is substituted').not.toMatch(/\$\{\w+\}/);
    return JSON.parse(text) as Json;
  };

  const taskStates = (states: Json): [string, Json][] =>
    Object.entries(states).flatMap(([name, state]: [string, Json]) => [
      ...(state.Type === 'Task' ? [[name, state] as [string, Json]] : []),
      ...asArray(state.Branches as Json[]).flatMap((b) => taskStates(b.States as Json)),
      ...(state.ItemProcessor ? taskStates(state.ItemProcessor.States as Json) : []),
      ...(state.Iterator ? taskStates(state.Iterator.States as Json) : []),
    ]);

  it('are exactly the verifier and the scrubber', () => {
    expect(ofType('AWS::StepFunctions::StateMachine').map(([id]) => id).sort()).toEqual(MACHINES().map((m) => logicalId(m.machine)).sort());
  });

  it('are STANDARD, with X-Ray tracing and ALL-level logs without execution data', () => {
    for (const { name, machine } of MACHINES()) {
      const sm = machineResource(machine);
      expect(sm.Properties.StateMachineType, name).toBe('STANDARD');
      expect(sm.Properties.TracingConfiguration, name).toEqual({ Enabled: true });
      expect(sm.Properties.LoggingConfiguration.Level, name).toBe('ALL');
      expect(sm.Properties.LoggingConfiguration.IncludeExecutionData, name).toBe(false);
      const logGroupId = sm.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0] as string;
      expect(resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
      expect(resources[logGroupId]!.Properties.RetentionInDays).toBe(30);
      expect(JSON.stringify(resources[logGroupId]!.Properties.LogGroupName)).toContain('/aws/vendedlogs/states/');
    }
  });

  it('deploy the shared definitions as they are, substituting only their workers\' ARNs', () => {
    for (const { name, machine, workers, definition } of MACHINES()) {
      const sm = machineResource(machine);
      expect(resolve(sm.Properties.DefinitionString), name).toBe(JSON.stringify(definition()));
      expect(sm.Properties.DefinitionSubstitutions, name).toEqual(Object.fromEntries(workers.map((w) => [functionArnPlaceholder(w), fnArn(w)])));
      const functionNames = taskStates(deployedDefinition(machine).States as Json).map(([, state]) => state.Parameters?.FunctionName as string);
      expect(new Set(functionNames), name).toEqual(new Set(workers.map((w) => fakeLambdaArn(workerId(w)))));
    }
  });

  it('send a web-download\'s fetch that answers continue back to Fetch (a fetch over several runs), fetched to Verify', () => {
    const states = deployedDefinition(stack.verifier).States as Json;
    expect(states.Fetch.Next).toBe('Fetched');
    expect(states.Fetched.Choices).toEqual([
      { Variable: '$.fetch.outcome.result', StringEquals: 'fetched', Next: 'Verify' },
      { Variable: '$.fetch.outcome.result', StringEquals: 'continue', Next: 'Fetch' },
    ]);
    expect(states.Fetched.Default).toBe('NotFetched');
  });

  it('validate with asl-validator, in JSONPath mode', () => {
    for (const { name, machine } of MACHINES()) {
      const definition = deployedDefinition(machine);
      expect(definition.QueryLanguage ?? 'JSONPath', name).toBe('JSONPath');
      // The validator fills in QueryLanguage on the object it is given: hand it a copy.
      const { isValid, errorsText } = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
      expect(isValid, `${name}: ${errorsText('\n')}`).toBe(true);
    }
  });

  it('retry every Task state', () => {
    for (const { name, machine } of MACHINES()) {
      const tasks = taskStates(deployedDefinition(machine).States as Json);
      expect(tasks.length, name).toBeGreaterThan(0);
      for (const [state, task] of tasks) {
        expect(asArray(task.Retry as Json[]).length, `${name}.${state}`).toBeGreaterThan(0);
        for (const retrier of task.Retry as Json[]) expect(retrier.MaxAttempts, `${name}.${state}`).toBeGreaterThan(0);
      }
    }
  });

  it('have roles that may invoke their own workers only (plus log delivery and tracing, which have no resource scope)', () => {
    for (const { name, machine, workers } of MACHINES()) {
      const roleId = machineResource(machine).Properties.RoleArn['Fn::GetAtt'][0] as string;
      const role = resources[roleId]!;
      expect(role.Properties.ManagedPolicyArns, name).toBeUndefined();
      expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain('states.amazonaws.com');
      const statements = [
        ...asArray(role.Properties.Policies as Json[]).flatMap((p) => p.PolicyDocument.Statement as Statement[]),
        ...ofType('AWS::IAM::Policy')
          .filter(([, p]) => asArray(p.Properties.Roles as Json[]).some((r) => r.Ref === roleId))
          .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]),
      ];
      const invoked: unknown[] = [];
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        for (const action of asArray(statement.Action)) {
          if (action === 'lambda:InvokeFunction') invoked.push(...asArray(statement.Resource as Json | Json[]));
          else {
            expect(action, `${name}: ${action}`).toMatch(/^(logs|xray):[A-Za-z]+$/);
            expect(statement.Resource).toBe('*');
          }
        }
      }
      const own = workers.flatMap((w) => [fnArn(w), { 'Fn::Join': ['', [fnArn(w), ':*']] }]);
      expect(invoked, name).toHaveLength(own.length);
      expect(invoked, name).toEqual(expect.arrayContaining(own));
    }
  });
});

describe('sweeper schedules', () => {
  const rules = () => ofType('AWS::Events::Rule');
  const queueArn = (): Json => ({ 'Fn::GetAtt': [logicalId(stack.sweepSchedules.deadLetterQueue), 'Arn'] });

  it('are four rules invoking the sweep worker with one job each: uploads every 15 minutes, stuck every 30, audit daily, redrive every 15', () => {
    const expected = [
      { jobs: ['uploads'], rate: 'rate(15 minutes)', maxAge: 900 },
      { jobs: ['stuck'], rate: 'rate(30 minutes)', maxAge: 1800 },
      { jobs: ['audit'], rate: 'rate(1 day)', maxAge: 86_400 },
      { jobs: ['redrive'], rate: 'rate(15 minutes)', maxAge: 900 },
    ];
    expect(SWEEP_SCHEDULES.map((s) => s.job)).toEqual(['uploads', 'stuck', 'audit', 'redrive']);
    expect(rules()).toHaveLength(expected.length);
    const seen = rules().map(([id, rule]) => {
      const p = rule.Properties;
      expect(p.State, id).toBe('ENABLED');
      expect(p.EventBusName, id).toBeUndefined(); // schedules run on the default bus
      expect(p.Targets, id).toHaveLength(1);
      const target = p.Targets[0] as Json;
      expect(target.Arn, id).toEqual({ 'Fn::GetAtt': [workerId('sweep'), 'Arn'] });
      expect(target.DeadLetterConfig, id).toEqual({ Arn: queueArn() });
      return { jobs: JSON.parse(target.Input as string).jobs, rate: p.ScheduleExpression, maxAge: target.RetryPolicy.MaximumEventAgeInSeconds, retries: target.RetryPolicy.MaximumRetryAttempts };
    });
    expect(seen).toEqual(expect.arrayContaining(expected.map((e) => ({ ...e, retries: 2 }))));
  });

  it('may each invoke the sweep function (resource policy scoped to the rule), which retries a failed sweep once', () => {
    const permissions = ofType('AWS::Lambda::Permission').filter(([, p]) => p.Properties.Principal === 'events.amazonaws.com');
    expect(permissions).toHaveLength(rules().length);
    for (const [, permission] of permissions) {
      expect(permission.Properties.Action).toBe('lambda:InvokeFunction');
      expect(permission.Properties.FunctionName).toEqual({ 'Fn::GetAtt': [workerId('sweep'), 'Arn'] });
      expect(rules().map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] }))).toContainEqual(permission.Properties.SourceArn);
    }
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: workerId('sweep') },
      MaximumRetryAttempts: 1,
    });
  });

  it('dead-letter into an encrypted, TLS-only queue that only the rules may send to', () => {
    const queue = resources[logicalId(stack.sweepSchedules.deadLetterQueue)]!;
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    const policies = ofType('AWS::SQS::QueuePolicy').filter(([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: logicalId(stack.sweepSchedules.deadLetterQueue) }]));
    expect(policies).toHaveLength(1);
    const [, policy] = policies[0]!;
    const statements = policy.Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(0);
    const ruleArns = rules().map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
    const allowedSources = allows.flatMap((st) => {
      expect(st.Principal).toEqual({ Service: 'events.amazonaws.com' });
      expect(st.Action).toBe('sqs:SendMessage');
      return asArray(st.Condition?.ArnEquals?.['aws:SourceArn'] as Json | Json[]);
    });
    expect(allowedSources).toEqual(expect.arrayContaining(ruleArns));
    expect(allowedSources).toHaveLength(ruleArns.length);
  });
});

describe('event relay (the outbox)', () => {
  it("streams the table's new images to the publishEvents worker, in order, retrying from the failed record, with a dead-letter queue", () => {
    const [, table] = ofType('AWS::DynamoDB::Table')[0]!;
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const [, mapping] = mappings[0]!;
    expect(mapping.Properties).toMatchObject({
      FunctionName: { Ref: workerId('publishEvents') },
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRecordAgeInSeconds: 86_400,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.eventRelay.deadLetterQueue), 'Arn'] } } },
    });
    expect(mapping.Properties.ParallelizationFactor ?? 1).toBe(1);
    const queue = resources[logicalId(stack.eventRelay.deadLetterQueue)]!;
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const [, policy] = ofType('AWS::SQS::QueuePolicy').find(([, p]) => JSON.stringify(p.Properties.Queues).includes(logicalId(stack.eventRelay.deadLetterQueue)))!;
    // TLS-only, and no one is let in by the queue's own policy (the relay sends through its role).
    const statements = policy.Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    expect(statements.filter((st) => st.Effect === 'Allow')).toEqual([]);
  });

  it("follows image writes into their memberships' copies in the same consumer, granted only a Query of the table, UpdateItem, and PutItem for the share-tag items", () => {
    const relay = declared().find((d) => d.name === 'publishEvents')!;
    expect([...relay.access].sort()).toEqual(['events:publish', 'table:share-copies', 'table:stream']);
    const actions = actionsOf(roleStatements(relay.id));
    // PutItem: the share-tag items, put (and retired as bare keys with a TTL) in a transaction with the membership's UpdateItem.
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:PutItem']));
    for (const never of ['dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:BatchGetItem']) expect(actions).not.toContain(never);
    // Only the relay holds table:share-copies.
    expect(declared().filter((d) => d.access.includes('table:share-copies')).map((d) => d.name)).toEqual(['publishEvents']);
  });

  it('leaves publishing to the relay: no API function may put events, and only the relay and the scrubber (scrub_failed) can', () => {
    const publishers = declared().filter((d) => d.access.includes('events:publish')).map((d) => d.name).sort();
    expect(publishers).toEqual(['publishEvents', 'scrubImage']);
    for (const route of ROUTES) expect(actionsOf(roleStatements(functionId(route.operationId))), route.operationId).not.toContain('events:PutEvents');
  });
});

describe('alarms', () => {
  const alarm = (name: string): Json => resources[logicalId(stack.alarms[name] as IConstruct)]!.Properties as Json;

  it('fire on one failure in 5 minutes, treat missing data as fine, and notify the topic', () => {
    expect(Object.keys(stack.alarms).sort()).toEqual(['EventsUndelivered', 'MissingObjects', 'RelayErrors', 'ScrubFailures', 'ScrubberFailed', 'SweepErrors', 'SweepUndelivered', 'UsageDrift', 'VerifierFailed']);
    expect(ofType('AWS::CloudWatch::Alarm')).toHaveLength(Object.keys(stack.alarms).length);
    for (const name of Object.keys(stack.alarms)) {
      const p = alarm(name);
      expect(p, name).toMatchObject({
        AlarmName: `skyglass-dev-${name}`,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        Period: 300,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: logicalId(stack.alarmTopic!) }],
      });
      expect((p.AlarmDescription as string).length, name).toBeGreaterThan(40);
    }
  });

  it('watch the verifier\'s and the scrubber\'s ExecutionsFailed', () => {
    for (const [name, machine] of [['VerifierFailed', stack.verifier], ['ScrubberFailed', stack.scrubber]] as const) {
      expect(alarm(name), name).toMatchObject({
        Namespace: 'AWS/States',
        MetricName: 'ExecutionsFailed',
        Statistic: 'Sum',
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalId(machine) } }],
      });
    }
  });

  it("watch the ScrubFailures, MissingObjects and UsageDrift metrics the scrub and sweep workers emit (EMF, namespace Skyglass), for this stage only", () => {
    const emitters: [string, string, string][] = [
      ['ScrubFailures', 'scrubImage', 'shared/app/scrubber.ts'],
      ['MissingObjects', 'sweep', 'functions/workers/sweep.ts'],
      ['UsageDrift', 'sweep', 'functions/workers/sweep.ts'],
    ];
    for (const [metric, worker, source] of emitters) {
      expect(alarm(metric), metric).toMatchObject({ Namespace: 'Skyglass', MetricName: metric, Statistic: 'Sum' });
      expect(alarm(metric).Dimensions, metric).toEqual([{ Name: 'Stage', Value: stack.stage }]);
      // The emitter is told its stage, the dimension's value (shared/app/metrics.ts reads STAGE).
      expect(resources[workerId(worker)]!.Properties.Environment?.Variables?.STAGE, worker).toBe(stack.stage);
      // And it emits through the one EMF writer, naming this metric.
      const code = readFileSync(path.join(REPO_ROOT, source), 'utf8');
      expect(code, source).toContain('emfRecord(');
      expect(code, source).toContain(`SKYGLASS_METRICS.${metric.charAt(0).toLowerCase()}${metric.slice(1)}`);
    }
  });

  it('watch the sweep worker\'s errors and its schedules\' dead letters', () => {
    expect(alarm('SweepErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: workerId('sweep') } }],
    });
    expect(alarm('SweepUndelivered')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.sweepSchedules.deadLetterQueue), 'QueueName'] } }],
    });
  });

  it('notify a topic encrypted with a rotating key that CloudWatch may use, TLS-only, with no subscription unless an email is given', () => {
    const topic = resources[logicalId(stack.alarmTopic!)]!;
    const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0] as string;
    const key = resources[keyId]!;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Delete'); // dev stage
    const keyStatements = key.Properties.KeyPolicy.Statement as Statement[];
    const forCloudWatch = keyStatements.filter((st) => JSON.stringify(st.Principal).includes('cloudwatch.amazonaws.com'));
    expect(forCloudWatch).toHaveLength(1);
    expect(asArray(forCloudWatch[0]!.Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);

    const [, topicPolicy] = ofType('AWS::SNS::TopicPolicy')[0]!;
    const statements = topicPolicy.Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    const publish = statements.find((st) => st.Effect === 'Allow')!;
    expect(publish).toMatchObject({ Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Resource: { Ref: logicalId(stack.alarmTopic!) } });
    expect(publish.Condition?.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('subscribe skyglass:alarmEmail, and can do without the topic', () => {
    // The alarms construct alone: cheaper than more whole stacks.
    const build = (id: string, settings: { topic?: boolean; email?: string }) => {
      const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), id);
      const machine = new sfn.StateMachine(scope, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(scope, 'Pass')) });
      const sweeper = new SkyglassFunction(scope, 'Sweep', { handlerPath: FALLBACK_HANDLER });
      const queue = new sqs.Queue(scope, 'Queue');
      new SkyglassAlarms(scope, 'Alarms', { stage: 'dev', verifier: machine, scrubber: machine, sweeper, sweepDeadLetters: queue, relay: sweeper, relayDeadLetters: queue, ...settings });
      return Template.fromStack(scope);
    };
    const withEmail = build('WithEmail', readAlarmSettings((key) => ({ 'skyglass:alarmEmail': 'ops@example.com' })[key]));
    withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    const without = build('WithoutTopic', readAlarmSettings((key) => ({ 'skyglass:alarmTopic': 'false' })[key]));
    without.resourceCountIs('AWS::SNS::Topic', 0);
    without.resourceCountIs('AWS::KMS::Key', 0);
    without.resourceCountIs('AWS::CloudWatch::Alarm', 9);
    for (const [, a] of Object.entries(without.findResources('AWS::CloudWatch::Alarm'))) expect((a as Json).Properties.AlarmActions).toBeUndefined();
  });
});

describe('CloudFormation limits', () => {
  // One stack holds at most 500 resources; a template past it fails at deploy, not at synthesis.
  // The data front's stack is the largest configuration.
  it('stays within 500 resources, with and without the data front', () => {
    const counts = { default: Object.keys(resources).length, dataFront: Object.keys(frontVariant().resources).length };
    console.log(`CloudFormation resources: ${JSON.stringify(counts)} (limit 500)`);
    expect(counts.default).toBeLessThanOrEqual(500);
    expect(counts.dataFront).toBeLessThanOrEqual(500);
  });
});

describe('API invoke permissions', () => {
  // One permission per route, scoped to its method: API Gateway may call each operation's function
  // only from that operation's method (and not from the console's test-invoke stage, whose second
  // permission per method would cost a stack resource each).
  it('grants each route\'s function exactly one invoke, from its own method', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter((p) => (p as Json).Properties.Principal === 'apigateway.amazonaws.com');
    const sources = permissions.map((p) => JSON.stringify((p as Json).Properties.SourceArn));
    expect(sources.filter((s) => s.includes('test-invoke-stage'))).toEqual([]);
    for (const route of ROUTES) {
      const fnId = logicalId(stack.imageApi.functions[route.operationId] as IConstruct);
      const own = permissions.filter((p) => JSON.stringify((p as Json).Properties.FunctionName).includes(`"${fnId}"`));
      expect(own, route.operationId).toHaveLength(1);
      const source = JSON.stringify((own[0] as Json).Properties.SourceArn);
      expect(source, route.operationId).toContain(`/${route.method}/`);
    }
  });
});

describe('outputs', () => {
  it('exports the API URL, table, bucket, state machines, event bus and Cognito ids', () => {
    const outputs = template.toJSON().Outputs as Json;
    for (const name of ['ApiUrl', 'TableName', 'BucketName', 'VerifierStateMachineArn', 'ScrubberStateMachineArn', 'EventBusName', 'AlarmTopicArn', 'UserPoolId', 'UserPoolClientId']) {
      expect(outputs, name).toHaveProperty(name);
    }
    expect(outputs.VerifierStateMachineArn.Value).toEqual({ Ref: logicalId(stack.verifier) });
    expect(outputs.ScrubberStateMachineArn.Value).toEqual({ Ref: logicalId(stack.scrubber) });
    expect(outputs.EventBusName.Value).toEqual({ Ref: logicalId(stack.eventBus) });
    expect(outputs.AlarmTopicArn.Value).toEqual({ Ref: logicalId(stack.alarmTopic!) });
  });
});

describe('cdk-nag AwsSolutions', () => {
  /** Every acknowledgement in the stack, and why it is acceptable, lives in the constructs; this is the complete list. */
  const ALLOWED = [
    /^AwsSolutions-IAM5\[Resource::\*\]$/, // only on policies holding nothing but actions without resource-level permissions (checked below)
    /^AwsSolutions-IAM5\[Resource::<\w+\.Arn>\/images\/\*\]$/, // image objects: keys are per image and upload
    /^AwsSolutions-IAM5\[Resource::<\w+\.Arn>:\*\]$/, // a state machine invokes its function's versions/aliases
    /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<\w+\.Name>:\*\]$/, // StopExecution: one state machine's executions
    /^AwsSolutions-S1$/, // server access logs: CloudTrail data events instead
    /^AwsSolutions-COG2$/, // MFA optional (service accounts)
    /^AwsSolutions-COG8$/, // Plus tier is a paid add-on
    /^AwsSolutions-COG4$/, // Lambda REQUEST authorizer instead of a Cognito authorizer (X-Auth-Token)
    /^AwsSolutions-APIG1$/, // access logs opt-in (account CloudWatch role)
    /^AwsSolutions-APIG2$/, // handlers validate with Glance's messages
    /^AwsSolutions-APIG3$/, // WAF attached at deployment
    /^AwsSolutions-APIG4$/, // version discovery and fallback are unauthenticated, as in Glance
    /^AwsSolutions-APIG6$/, // execution logs need the account CloudWatch role
    /^AwsSolutions-SQS3$/, // the sweep schedules' dead-letter queue is itself a DLQ (of EventBridge targets)
  ];

  it('reports no unacknowledged findings', () => {
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledges only listed rules, each with a real reason', () => {
    const acks = acknowledgements();
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ALLOWED.some((re) => re.test(ack.id)), `${ack.path}: ${ack.id}`).toBe(true);
      expect(ack.reason.length, `${ack.path}: ${ack.id}`).toBeGreaterThanOrEqual(40);
    }
    // Auth routes are not exempted from APIG4.
    const routeMethodPaths = acks.filter((a) => a.id === 'AwsSolutions-APIG4').map((a) => a.path);
    for (const route of ROUTES.filter((r) => r.auth)) {
      const method = stack.api.methods.find((m) => m.httpMethod === route.method && m.resource.path === route.path);
      expect(method, route.operationId).toBeDefined();
      expect(routeMethodPaths, route.operationId).not.toContain(method!.node.path);
    }
    expect(routeMethodPaths.length).toBeGreaterThan(0);
  });

  it('leaves no CDK error annotations', () => {
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  /** Actions that support no resource-level permissions, so `Resource: "*"` is the only way to grant them. */
  const UNSCOPED_ACTIONS = new Set([
    'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
    'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries',
    'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
    'dynamodb:ListStreams',
  ]);

  it("acknowledges IAM5[Resource::*] only on policies that hold nothing but actions without resource-level permissions", () => {
    const wildcardAcks = acknowledgements().filter((a) => a.id === 'AwsSolutions-IAM5[Resource::*]');
    expect(wildcardAcks.length).toBeGreaterThan(0);
    for (const ack of wildcardAcks) {
      const construct = stack.node.findAll().find((c) => c.node.path === ack.path)!;
      // The acknowledged construct is one IAM policy (no role, no function, no subtree holding others).
      const cfnResources = construct.node.findAll().filter(CfnResource.isCfnResource);
      expect(cfnResources.map((r) => r.cfnResourceType), ack.path).toEqual(['AWS::IAM::Policy']);
      const statements = resourceOf(construct).resource.Properties.PolicyDocument.Statement as Statement[];
      for (const statement of statements) {
        expect(statement.Resource, ack.path).toBe('*');
        for (const action of asArray(statement.Action)) expect(UNSCOPED_ACTIONS.has(action), `${ack.path}: ${action}`).toBe(true);
      }
    }
    // Every role of a function or state machine keeps its data statements where no IAM5[Resource::*] acknowledgement reaches.
    const roles = [...Object.values(stack.functions), ...Object.values(stack.workers), stack.authorizerFunction, stack.fallbackFunction].map((fn) => fn.serviceRole.node.path);
    for (const path of roles) expect(wildcardAcks.map((a) => a.path).filter((p) => path.startsWith(p)), path).toEqual([]);
  });

  it("still reports a data statement on Resource * added to a function's role (it is not silenced)", () => {
    const scratch = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const scope = new Stack(scratch, 'Careless');
    const table = new ImageTable(scope, 'Images', {}).table;
    const fn = new SkyglassFunction(scope, 'Fn', { handlerPath: FALLBACK_HANDLER });
    fn.grantAccess(['table:read'], { table });
    const findings = () => new AwsSolutionsChecks(scratch).validateScope(scope).violations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM5'));
    expect(findings()).toEqual([]);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    const reported = findings();
    expect(reported.length).toBeGreaterThan(0);
    expect(reported.flatMap((v) => v.violatingResources.map((r) => r.constructPath)).join(' ')).toContain('Careless/FnRole');
  });
});

describe('prod stage data resources', () => {
  // The data constructs alone: synthesizing them is cheap, unlike another whole stack.
  it('retains the table and bucket, with deletion protection and no auto-delete', () => {
    const prodApp = new App({ context: CDK_CONTEXT });
    const prod = new Stack(prodApp, 'Prod');
    new ImageTable(prod, 'Images', { production: true });
    new ImageBucket(prod, 'ImageData', { production: true });
    const t = Template.fromStack(prod);
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ DeletionProtectionEnabled: true }) });
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    t.resourceCountIs('AWS::Lambda::Function', 0);
  });
});

describe('configuration from context', () => {
  const reader = (context: Record<string, unknown>) => (key: string) => context[key];

  it('defaults to the dev stage with its own Cognito user pool', () => {
    const config = readConfig(reader({}), {});
    expect(config.stage).toBe('dev');
    expect(config.auth).toEqual({ kind: 'cognito', claims: { project: 'custom:project_id', user: 'sub', roles: 'custom:roles' } });
    expect(config.skipBundling).toBe(false);
    expect(config.env).toBeUndefined();
  });

  it('trusts an external issuer with a static JWKS and OIDC claim names', () => {
    const jwks = '{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}';
    const config = readConfig(reader({ 'skyglass:jwtIssuer': 'http://127.0.0.1:9292', 'skyglass:jwksJson': jwks, 'skyglass:jwtAudience': 'skyglass' }), {});
    expect(config.auth).toEqual({
      kind: 'external',
      issuer: 'http://127.0.0.1:9292',
      audience: 'skyglass',
      jwksJson: jwks,
      claims: { project: 'project_id', user: 'sub', roles: 'roles' },
    });
  });

  it('trusts a Keystone with skyglass:keystoneUrl: no user pool, no keys, and it refuses a URL it cannot name in a header', () => {
    expect(readConfig(reader({ 'skyglass:keystoneUrl': 'https://keystone.example.com:5000/' }), {}).auth).toEqual({ kind: 'keystone', url: 'https://keystone.example.com:5000' });
    expect(() => readConfig(reader({ 'skyglass:keystoneUrl': 'https://ks', 'skyglass:jwtIssuer': 'https://idp' }), {})).toThrow(/not both/);
    expect(() => readConfig(reader({ 'skyglass:keystoneUrl': 'https://ks', 'skyglass:createUserPool': true }), {})).toThrow(/not both/);
    for (const bad of ['keystone:5000', 'ftp://ks', 'https://user:pw@ks', 'https://ks/"x']) {
      expect(() => readConfig(reader({ 'skyglass:keystoneUrl': bad }), {}), bad).toThrow(/skyglass:keystoneUrl must be/);
    }
  });

  it('rejects contradictory or incomplete identity settings', () => {
    expect(() => readConfig(reader({ 'skyglass:createUserPool': 'false' }), {})).toThrow(/jwtIssuer/);
    expect(() => readConfig(reader({ 'skyglass:jwtIssuer': 'https://idp' }), {})).toThrow(/jwksUrl or skyglass:jwksJson/);
    expect(() => readConfig(reader({ 'skyglass:jwtIssuer': 'https://idp', 'skyglass:createUserPool': true, 'skyglass:jwksUrl': 'https://idp/k' }), {})).toThrow(/not both/);
    expect(() => readConfig(reader({ 'skyglass:jwtIssuer': 'https://idp', 'skyglass:jwksJson': '{"nokeys":1}' }), {})).toThrow(/JWKS/);
  });

  it('reads upload and download lifetimes, with defaults, and rejects unusable ones', () => {
    expect(readConfig(reader({}), {}).data).toEqual({ uploadUrlSeconds: 900, uploadSessionSeconds: 86_400, downloadUrlSeconds: 300 });
    expect(DEFAULT_DATA_SETTINGS).toEqual(readConfig(reader({}), {}).data);
    expect(readDataSettings(reader({ 'skyglass:uploadUrlSeconds': '600', 'skyglass:uploadSessionSeconds': 172_800, 'skyglass:downloadUrlSeconds': 60 }))).toEqual({
      uploadUrlSeconds: 600,
      uploadSessionSeconds: 172_800,
      downloadUrlSeconds: 60,
    });
    for (const bad of ['0', '-5', '1.5', 'soon']) expect(() => readDataSettings(reader({ 'skyglass:downloadUrlSeconds': bad })), bad).toThrow(/skyglass:downloadUrlSeconds/);
    // SigV4 presigned URLs live 7 days at most.
    expect(() => readDataSettings(reader({ 'skyglass:uploadUrlSeconds': 8 * 86_400, 'skyglass:uploadSessionSeconds': 10 * 86_400 }))).toThrow(/at most 604800/);
    expect(() => readDataSettings(reader({ 'skyglass:downloadUrlSeconds': 604_801 }))).toThrow(/at most 604800/);
    // A part URL must not outlive its session.
    expect(() => readDataSettings(reader({ 'skyglass:uploadUrlSeconds': 7200, 'skyglass:uploadSessionSeconds': 3600 }))).toThrow(/must not exceed/);
  });

  it('reads delayed delete and the scrub delay, with defaults', () => {
    expect(readConfig(reader({}), {}).deletes).toEqual({ delayedDelete: true, scrubDelaySeconds: 3600 });
    expect(DEFAULT_DELETE_SETTINGS).toEqual(readConfig(reader({}), {}).deletes);
    expect(readDeleteSettings(reader({ 'skyglass:delayedDelete': 'false', 'skyglass:scrubDelaySeconds': 0 }))).toEqual({ delayedDelete: false, scrubDelaySeconds: 0 });
    expect(() => readDeleteSettings(reader({ 'skyglass:scrubDelaySeconds': -1 }))).toThrow(/scrubDelaySeconds/);
    // A Standard execution lives at most a year.
    expect(() => readDeleteSettings(reader({ 'skyglass:scrubDelaySeconds': 365 * 86_400 }))).toThrow(/at most/);
  });

  it('reads the sweepers\' limits, with defaults, and refuses limits that would undo running work', () => {
    expect(readConfig(reader({}), {}).sweeps).toEqual({ stuckSeconds: 7200, orphanGraceSeconds: 86_400 });
    expect(DEFAULT_SWEEP_SETTINGS).toEqual(readConfig(reader({}), {}).sweeps);
    expect(readSweepSettings(reader({ 'skyglass:sweepStuckSeconds': '10800', 'skyglass:orphanGraceSeconds': 7200 }))).toEqual({ stuckSeconds: 10_800, orphanGraceSeconds: 7200 });
    for (const bad of ['0', '-1', '1.5', 'later']) expect(() => readSweepSettings(reader({ 'skyglass:sweepStuckSeconds': bad })), bad).toThrow(/skyglass:sweepStuckSeconds/);
    // Shorter than the verifier's longest run (four 15-minute attempts) would requeue images under a running verification.
    expect(() => readSweepSettings(reader({ 'skyglass:sweepStuckSeconds': 3600 }))).toThrow(/at least 3900/);
    expect(() => readSweepSettings(reader({ 'skyglass:orphanGraceSeconds': 60 }))).toThrow(/at least 3600/);
  });

  it('reads the alarm topic and email, and refuses an email without a topic', () => {
    expect(readConfig(reader({}), {}).alarms).toEqual({ topic: true });
    expect(readAlarmSettings(reader({ 'skyglass:alarmEmail': 'ops@example.com' }))).toEqual({ topic: true, email: 'ops@example.com' });
    expect(readAlarmSettings(reader({ 'skyglass:alarmTopic': false }))).toEqual({ topic: false });
    expect(() => readAlarmSettings(reader({ 'skyglass:alarmEmail': 'not an address' }))).toThrow(/email address/);
    expect(() => readAlarmSettings(reader({ 'skyglass:alarmEmail': 'ops@example.com', 'skyglass:alarmTopic': 'false' }))).toThrow(/needs the alarm topic/);
  });

  it('never lets the lifecycle rule abort a multipart upload whose session is still open', () => {
    expect(multipartAbortDays({ uploadSessionSeconds: 3600 })).toBe(1);
    expect(multipartAbortDays({ uploadSessionSeconds: 86_400 })).toBe(1);
    expect(multipartAbortDays({ uploadSessionSeconds: 86_401 })).toBe(2);
    expect(multipartAbortDays({ uploadSessionSeconds: 3 * 86_400 })).toBe(3);
  });

  it('skips bundling with SKYGLASS_SKIP_BUNDLING=1 or skyglass:skipBundling', () => {
    expect(readConfig(reader({}), { SKYGLASS_SKIP_BUNDLING: '1' }).skipBundling).toBe(true);
    expect(readConfig(reader({ 'skyglass:skipBundling': 'true' }), {}).skipBundling).toBe(true);
  });
});

// Real bundling takes ~35-45 s (29 functions), so a developer's `npm test` skips it unless asked; CI (CI=true) always runs it.
const fullSynth = process.env.SKYGLASS_FULL_SYNTH === '1' || process.env.CI === 'true';
describe.runIf(fullSynth)('full synthesis with esbuild bundling (always in CI; locally with SKYGLASS_FULL_SYNTH=1)', () => {
  it('bundles every function into one minified ESM file with the createRequire banner', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'skyglass-synth-'));
    try {
      const full = new App({ outdir, context: CDK_CONTEXT });
      const config = readConfig((key) => full.node.tryGetContext(key), {});
      const fullStack = new SkyglassStack(full, 'SkyglassFull', { stage: config.stage, auth: config.auth });
      const assembly = full.synth();
      const fullTemplate = assembly.getStackArtifact(fullStack.artifactId).template as { Resources: Record<string, Json> };
      const fns = [...Object.values(fullStack.functions), ...Object.values(fullStack.workers), fullStack.authorizerFunction, fullStack.fallbackFunction];
      // A room's functions are in its nested stack's template, written beside the parent's.
      const templateFor = (s: Stack): { Resources: Record<string, Json> } => (s === fullStack ? fullTemplate : JSON.parse(readFileSync(path.join(outdir, s.templateFile), 'utf8')));
      for (const fn of fns) {
        const cfn = templateFor(Stack.of(fn)).Resources[Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement)]!;
        const assetHash = (cfn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
        const dir = path.join(outdir, `asset.${assetHash}`);
        expect(readdirSync(dir), fn.node.id).toEqual(['index.mjs']);
        const code = readFileSync(path.join(dir, 'index.mjs'), 'utf8');
        expect(code.startsWith("import { createRequire } from 'module';")).toBe(true);
        expect(existsSync(path.join(dir, 'index.mjs.map'))).toBe(false);
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('browser console (skyglass:console, on by default)', () => {
  let c: { app: App; stack: SkyglassStack; resources: Record<string, Json> };
  beforeAll(() => {
    const synth = synthesize({ 'aws:cdk:bundling-stacks': [] });
    c = { ...synth, resources: Template.fromStack(synth.stack).toJSON().Resources as Record<string, Json> };
  }, 120_000);
  const id = (construct: IConstruct) => c.stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const typed = (type: string) => Object.entries(c.resources).filter(([, r]) => r.Type === type);
  /** A template value as text: Refs and attributes as <id> and <id.Attr>. */
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Json;
    if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(text).join(v['Fn::Join'][0] as string);
    if (v.Ref) return `<${v.Ref}>`;
    if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
    return JSON.stringify(v);
  };
  /** The logical id of a BucketDeployment's custom resource (CDK names it by the deployment's memory limit). */
  const deploymentId = (deployment: IConstruct) =>
    c.stack.getLogicalId(deployment.node.findAll().find((n) => CfnResource.isCfnResource(n) && n.cfnResourceType === 'Custom::CDKBucketDeployment') as CfnElement);
  const distributionOrigin = () => `https://<${id(c.stack.console!.distribution)}.DomainName>`;

  it('keeps the files in a private, encrypted, TLS-only bucket that only the distribution reads, through OAC', () => {
    const bucket = c.resources[id(c.stack.console!.bucket)]!;
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    const policy = typed('AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id(c.stack.console!.bucket))![1];
    const statements = policy.Properties.PolicyDocument.Statement as Statement[];
    expect(statements.some((st) => st.Effect === 'Deny' && JSON.stringify(st.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }))).toBe(true);
    const read = statements.find((st) => st.Principal?.Service === 'cloudfront.amazonaws.com')!;
    expect(read.Action).toBe('s3:GetObject');
    expect(JSON.stringify(read.Condition)).toContain(id(c.stack.console!.distribution));
    expect(typed('AWS::CloudFront::OriginAccessControl')).toHaveLength(1);
    const config = c.resources[id(c.stack.console!.distribution)]!.Properties.DistributionConfig;
    expect(config.Origins[0].OriginAccessControlId).toBeDefined();
    expect(config.DefaultCacheBehavior).toMatchObject({ ViewerProtocolPolicy: 'redirect-to-https', ResponseHeadersPolicyId: { Ref: id(c.stack.console!.responseHeadersPolicy) } });
  });

  it('sends HSTS, nosniff, frame-deny, no referrer and a CSP without unsafe-inline whose connect-src is exactly the API, the store and the hosted UI', () => {
    const headers = c.resources[id(c.stack.console!.responseHeadersPolicy)]!.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    expect(headers).toMatchObject({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 31536000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
    });
    const csp = text(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).not.toContain('unsafe');
    const api = `https://<${id(c.stack.api)}>.execute-api.<AWS::Region>.<AWS::URLSuffix>`;
    const store = `https://<${id(c.stack.bucket)}>.s3.<AWS::Region>.<AWS::URLSuffix>`;
    const signIn = `https://<${id(c.stack.console!.domain)}>.auth.<AWS::Region>.amazoncognito.com`;
    expect(csp).toBe(`default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${api} ${store} ${signIn}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'`);
  });

  it("names the store's origin as the S3 presigner writes part URLs", async () => {
    const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    const url = await getSignedUrl(client, new UploadPartCommand({ Bucket: 'image-bucket', Key: 'images/x', UploadId: 'u', PartNumber: 1 }));
    const csp = text(c.resources[id(c.stack.console!.responseHeadersPolicy)]!.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy);
    const expected = `https://<${id(c.stack.bucket)}>.s3.<AWS::Region>.<AWS::URLSuffix>`.replace(`<${id(c.stack.bucket)}>`, 'image-bucket').replace('<AWS::Region>', 'eu-west-1').replace('<AWS::URLSuffix>', 'amazonaws.com');
    expect(new URL(url).origin).toBe(expected);
    expect(csp).toContain(`https://<${id(c.stack.bucket)}>.s3.<AWS::Region>.<AWS::URLSuffix>`);
  });

  it('creates a public app client for the code flow (PKCE), with the console as callback and logout, and its hosted UI domain', () => {
    const client = c.resources[id(c.stack.console!.client)]!.Properties;
    expect(client).toMatchObject({ AllowedOAuthFlows: ['code'], AllowedOAuthFlowsUserPoolClient: true, GenerateSecret: false, AllowedOAuthScopes: ['openid', 'email', 'profile'], SupportedIdentityProviders: ['COGNITO'], WriteAttributes: ['email'] });
    expect(client.CallbackURLs.map(text)).toEqual([`${distributionOrigin()}/console/`]);
    expect(client.LogoutURLs.map(text)).toEqual([`${distributionOrigin()}/console/`]);
    expect(typed('AWS::Cognito::UserPoolDomain')).toHaveLength(1);
    // The authorizer trusts ID tokens of both clients.
    const env = c.resources[id(c.stack.authorizerFunction)]!.Properties.Environment.Variables;
    expect(text(env.JWT_AUDIENCE)).toBe(`<${id(c.stack.userPoolClient!)}>,<${id(c.stack.console!.client)}>`);
  });

  it('deploys the build and config.json (API URL, hosted UI, client id) under console/, invalidating the distribution', () => {
    const deployment = c.resources[deploymentId(c.stack.console!.deployment)]!;
    expect(deployment.Properties).toMatchObject({ DestinationBucketKeyPrefix: 'console/', DistributionPaths: ['/console/*'], Prune: true });
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    for (const ref of [id(c.stack.api), id(c.stack.console!.client), id(c.stack.console!.domain)]) expect(markers).toContain(`"${ref}"`);
    expect(text(c.stack.resolve(c.stack.console!.url))).toBe(`${distributionOrigin()}/console/`);
    expect(Object.keys(Template.fromStack(c.stack).toJSON().Outputs)).toContain('ConsoleUrl');
  });

  it('caches the content-hashed assets for a year and has browsers revalidate index.html and config.json, deployed after the assets they name', () => {
    const files = c.resources[deploymentId(c.stack.console!.deployment)]!;
    const assets = c.resources[deploymentId(c.stack.console!.assets)]!;
    expect(typed('Custom::CDKBucketDeployment')).toHaveLength(2);
    expect(assets.Properties).toMatchObject({ DestinationBucketKeyPrefix: 'console/assets/', Prune: false, SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' } });
    expect(assets.Properties).not.toHaveProperty('DistributionId');
    // The files' prune leaves assets/ alone; the assets' own deployment never prunes, for pages still open on an older index.html.
    expect(files.Properties).toMatchObject({ Exclude: ['assets/*'], SystemMetadata: { 'cache-control': 'no-cache' } });
    expect(files.DependsOn).toEqual(expect.arrayContaining([deploymentId(c.stack.console!.assets)]));
  });

  it("lets exactly the console's origin PUT parts to the image bucket and read their ETag (written by one custom resource), granted only that", () => {
    const [, cors] = typed('Custom::AWS')[0]!;
    for (const phase of ['Create', 'Update']) {
      const call = JSON.parse(text(cors.Properties[phase]));
      expect(call).toMatchObject({ service: 'S3', action: 'putBucketCors', parameters: { Bucket: `<${id(c.stack.bucket)}>` } });
      expect(call.parameters.CORSConfiguration).toEqual({ CORSRules: [{ AllowedOrigins: [distributionOrigin()], AllowedMethods: ['PUT'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 3600 }] });
    }
    const policy = c.resources[c.stack.getLogicalId(c.stack.console!.imageBucketCors.node.findChild('CustomResourcePolicy').node.defaultChild as CfnElement)]!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual([{ Action: 's3:PutBucketCORS', Effect: 'Allow', Resource: { 'Fn::GetAtt': [id(c.stack.bucket), 'Arn'] } }]);
  });

  it("gives every API function and the gateway's own answers the console's origin for CORS", () => {
    for (const fn of [...Object.values(c.stack.functions), c.stack.fallbackFunction]) {
      // A room's function is told the origin through its nested stack's parameters: the parent's value.
      const { stack: at, resource } = resourceOf(fn);
      expect(text(inParent(at, resource.Properties.Environment.Variables.CONSOLE_ORIGIN)), fn.node.id).toBe(distributionOrigin());
    }
    const responses = typed('AWS::ApiGateway::GatewayResponse');
    expect(responses).toHaveLength(Object.keys(GATEWAY_RESPONSES).length);
    for (const [, r] of responses) expect(text(r.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'])).toBe(`'${distributionOrigin()}'`);
  });

  it('rewrites the console\'s views to index.html and sends / to the console', () => {
    const handler = new Function(`${CONSOLE_VIEWER_FUNCTION}; return handler;`)() as (e: { request: { uri: string } }) => Json;
    expect(handler({ request: { uri: '/' } }).statusCode).toBe(302);
    for (const [uri, to] of [['/console/images/abc', '/console/index.html'], ['/console/', '/console/index.html'], ['/console/assets/app-1.js', '/console/assets/app-1.js'], ['/console/config.json', '/console/config.json']]) {
      expect(handler({ request: { uri: uri! } }).uri, uri).toBe(to);
    }
  });

  it('passes cdk-nag, acknowledging only listed rules with reasons', () => {
    const report = new AwsSolutionsChecks(c.app).validateScope(c.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    const acks = c.stack.node.findAll().filter((n) => n.node.path.includes('/Console/') || /Custom::CDKBucketDeployment|AWS679f53fac002430cb0da5b7982bd2287/.test(n.node.id)).flatMap((n) =>
      n.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).flatMap((m) => Object.entries(m.data as Record<string, string>).map(([rule, reason]) => ({ rule: rule.replace(/^annotation::/i, ''), reason }))),
    ).filter((a) => a.rule.startsWith('AwsSolutions-'));
    for (const ack of acks) {
      expect(ack.rule).toMatch(/^AwsSolutions-(S1|CFR[1-4]|L1|IAM4\[Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/AWSLambdaBasicExecutionRole\]|IAM5\[.*\])$/);
      expect(ack.reason.length, ack.rule).toBeGreaterThanOrEqual(40);
    }
  });

  // 22: each BucketDeployment (the hashed assets, and index.html with config.json) brings its own AWS CLI layer.
  it('costs at most 22 resources, and both configurations stay within 500', () => {
    const withFront = Object.keys(Template.fromStack(synthesize({ 'aws:cdk:bundling-stacks': [], 'skyglass:dataFront': true }).stack).toJSON().Resources).length;
    const counts = { default: Object.keys(c.resources).length, withoutConsole: Object.keys(resources).length, dataFront: withFront, dataFrontWithoutConsole: Object.keys(frontVariant().resources).length };
    console.log(`CloudFormation resources with the console: ${JSON.stringify(counts)}`);
    expect(counts.default - counts.withoutConsole).toBeLessThanOrEqual(22);
    expect(counts.dataFront - counts.dataFrontWithoutConsole).toBeLessThanOrEqual(22);
    expect(counts.default).toBeLessThanOrEqual(500);
    expect(counts.dataFront).toBeLessThanOrEqual(500);
  });

  it('is refused with an external issuer or Keystone, and off by default there', () => {
    const external = { 'skyglass:jwtIssuer': 'https://idp.example', 'skyglass:jwksUrl': 'https://idp.example/jwks' };
    expect(readConfig((k) => (external as Record<string, unknown>)[k], {}).console).toBe(false);
    const asked: Record<string, unknown> = { ...external, 'skyglass:console': true };
    expect(() => readConfig((k) => asked[k], {})).toThrow('skyglass:console needs the stack\'s own user pool');
  });
});
