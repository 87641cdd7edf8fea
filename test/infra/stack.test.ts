/**
 * The CDK stack, as CloudFormation: one function per route of the route table, the authorizer
 * and fallback wiring, data resources, least-privilege IAM, Glance-shaped gateway responses and
 * cdk-nag's AwsSolutions pack. Synthesizes once, with esbuild bundling skipped.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../shared/adapters/table-design.js';
import { ROUTES, type Route } from '../../shared/routes.js';
import { readConfig } from '../../infra/config.js';
import { GATEWAY_RESPONSES, UPLOAD_HINT } from '../../shared/http/gateway-responses.js';
import { ImageBucket } from '../../infra/constructs/image-bucket.js';
import { ImageTable } from '../../infra/constructs/image-table.js';
import { SkyglassStack } from '../../infra/stack.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The context `cdk synth` sees (feature flags, skyglass:* defaults), so the test synthesizes the same stack. */
const CDK_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

type Json = Record<string, any>; // CloudFormation fragments
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Condition?: Json };

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function synthesize(context: Record<string, unknown>): { app: App; stack: SkyglassStack } {
  const app = new App({ context: { ...CDK_CONTEXT, ...context } });
  const config = readConfig((key) => app.node.tryGetContext(key), {});
  const stack = new SkyglassStack(app, 'SkyglassTest', {
    stage: config.stage,
    auth: config.auth,
    accessLogs: config.accessLogs,
    throttling: config.throttling,
  });
  return { app, stack };
}

let app: App;
let stack: SkyglassStack;
let template: Template;
let resources: Record<string, Json>;

const ofType = (type: string): [string, Json][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const functionId = (operationId: string): string => logicalId(stack.functions[operationId] as IConstruct);

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
  ({ app, stack } = synthesize({ 'aws:cdk:bundling-stacks': [] }));
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Json>;
}, 120_000);

describe('functions', () => {
  const appFunctions = () => ofType('AWS::Lambda::Function').filter(([, r]) => asArray(r.Properties.Architectures).includes('arm64'));

  it('creates exactly one Lambda per route, plus the authorizer and the fallback', () => {
    expect(appFunctions()).toHaveLength(ROUTES.length + 2);
    expect(Object.keys(stack.functions).sort()).toEqual(ROUTES.map((r) => r.operationId).sort());
    const ids = new Set(appFunctions().map(([id]) => id));
    for (const route of ROUTES) expect(ids.has(functionId(route.operationId)), route.operationId).toBe(true);
    expect(ids.has(logicalId(stack.authorizerFunction))).toBe(true);
    expect(ids.has(logicalId(stack.fallbackFunction))).toBe(true);
    // The only other function is CDK's provider behind the bucket's autoDeleteObjects (non-prod).
    const others = ofType('AWS::Lambda::Function').filter(([id]) => !ids.has(id));
    expect(others.map(([id]) => id)).toEqual([expect.stringMatching(/^CustomS3AutoDeleteObjectsCustomResourceProvider/)]);
  });

  it('construct id of each route function is its operationId', () => {
    for (const route of ROUTES) expect(stack.functions[route.operationId]!.node.id).toBe(route.operationId);
  });

  it('applies the house defaults: newest Node.js on ARM64, 512 MB, 10 s (authorizer 5 s), active tracing, own log group', () => {
    for (const [id, fn] of appFunctions()) {
      const p = fn.Properties;
      expect(p.Runtime, id).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.MemorySize).toBe(512);
      expect(p.Timeout).toBe(id === logicalId(stack.authorizerFunction) ? 5 : 10);
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
      if (route.access.length > 0) expect(env.TABLE_NAME, route.operationId).toEqual({ Ref: logicalId(stack.table) });
      else expect(env.TABLE_NAME, route.operationId).toBeUndefined();
    }
    for (const fn of [stack.authorizerFunction, stack.fallbackFunction]) {
      expect(resources[logicalId(fn)]!.Properties.Environment?.Variables?.TABLE_NAME).toBeUndefined();
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
  it('is a regional REST API named per stage, without the account CloudWatch role, accepting octet-stream bodies', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Name: 'skyglass-dev',
      BinaryMediaTypes: Match.arrayWith(['application/octet-stream']),
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

  it('uses a REQUEST authorizer with no required identity source and caching off', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: Match.absent(),
    });
    const [, authorizer] = ofType('AWS::ApiGateway::Authorizer')[0]!;
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(`"${logicalId(stack.authorizerFunction)}"`);
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

describe('table', () => {
  it('uses the shared key design, on-demand billing, PITR, TTL and the three GSIs', () => {
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
        Projection: { ProjectionType: 'ALL' },
      });
    }
    const attributes = (table.Properties.AttributeDefinitions as Json[]).map((a) => [a.AttributeName, a.AttributeType]);
    for (const [, type] of attributes) expect(type).toBe('S');
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

  it('allows browser PUT/GET/HEAD with presigned URLs and exposes ETag', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({
            AllowedMethods: Match.arrayWith(['PUT', 'GET', 'HEAD']),
            AllowedOrigins: ['*'],
            AllowedHeaders: ['*'],
            ExposedHeaders: ['ETag'],
          }),
        ],
      },
    });
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
});

describe('IAM least privilege', () => {
  const allowStatements = (): { where: string; statement: Statement }[] => {
    const out: { where: string; statement: Statement }[] = [];
    for (const [id, r] of Object.entries(resources)) {
      const docs: Json[] = [];
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(r.Properties.PolicyDocument);
      if (r.Type === 'AWS::IAM::Role') for (const p of asArray(r.Properties.Policies as Json[])) docs.push(p.PolicyDocument);
      if (r.Type === 'AWS::S3::BucketPolicy') docs.push(r.Properties.PolicyDocument);
      for (const doc of docs) for (const statement of doc.Statement as Statement[]) if (statement.Effect === 'Allow') out.push({ where: id, statement });
    }
    return out;
  };

  it('grants no Allow with action *, dynamodb:* or s3:* anywhere', () => {
    const statements = allowStatements();
    expect(statements.length).toBeGreaterThan(0);
    for (const { where, statement } of statements) {
      for (const action of asArray(statement.Action)) {
        expect(['*', 'dynamodb:*', 's3:*'], `${where}: ${action}`).not.toContain(action);
        expect(action.startsWith('dynamodb:') && action.includes('*'), `${where}: ${action}`).toBe(false);
      }
    }
    // The only Deny-with-s3:* is the TLS-only guard (checked above), which restricts rather than grants.
  });

  it('gives no table permission to functions whose route has no access (versions, schemas, authorizer, fallback)', () => {
    const none = ROUTES.filter((r) => r.access.length === 0);
    expect(none.map((r) => r.operationId)).toEqual(expect.arrayContaining(['getVersionsRoot', 'listVersions', 'getImageSchema', 'getImagesSchema']));
    for (const route of none) expect(dynamoActions(route.operationId), route.operationId).toEqual([]);
    for (const fn of [stack.authorizerFunction, stack.fallbackFunction]) {
      expect(actionsOf(roleStatements(logicalId(fn))).filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
    }
  });

  it('gives read-only routes (listImages, showImage) reads and no writes', () => {
    for (const operationId of ['listImages', 'showImage']) {
      const actions = dynamoActions(operationId);
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      for (const write of [...WRITE_ACTIONS, 'dynamodb:ConditionCheckItem', 'dynamodb:BatchWriteItem']) expect(actions).not.toContain(write);
    }
  });

  it('matches every route\'s declared access exactly', () => {
    for (const route of ROUTES) {
      const actions = dynamoActions(route.operationId);
      const canWrite = route.access.includes('table:write');
      const canRead = canWrite || route.access.includes('table:read');
      for (const read of ['dynamodb:GetItem', 'dynamodb:Query']) expect(actions.includes(read), `${route.operationId} ${read}`).toBe(canRead);
      for (const write of [...WRITE_ACTIONS, 'dynamodb:ConditionCheckItem']) expect(actions.includes(write), `${route.operationId} ${write}`).toBe(canWrite);
      expect(actions).not.toContain('dynamodb:Scan');
    }
  });

  it('scopes table permissions to the table and its indexes only, and writes to the table only', () => {
    const tableId = logicalId(stack.table);
    const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
    const indexArn = { 'Fn::Join': ['', [tableArn, '/index/*']] };
    for (const route of ROUTES.filter((r) => r.access.length > 0)) {
      for (const statement of roleStatements(functionId(route.operationId))) {
        const actions = asArray(statement.Action);
        if (!actions.some((a) => a.startsWith('dynamodb:'))) continue;
        const resourcesOf = asArray(statement.Resource as Json | Json[]);
        for (const resource of resourcesOf) expect([tableArn, indexArn], route.operationId).toContainEqual(resource);
        if (actions.some((a) => WRITE_ACTIONS.includes(a))) expect(resourcesOf, route.operationId).toEqual([tableArn]);
      }
    }
  });

  it('uses no AWS managed policies on application roles (logs are granted on the function\'s own log group)', () => {
    for (const fn of [...Object.values(stack.functions), stack.authorizerFunction, stack.fallbackFunction]) {
      const role = resources[logicalId(fn.serviceRole)]!;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      const logStatement = roleStatements(logicalId(fn)).find((s) => asArray(s.Action).includes('logs:PutLogEvents'));
      expect(logStatement?.Resource).toEqual({ 'Fn::GetAtt': [logicalId(fn.functionLogGroup), 'Arn'] });
    }
  });
});

describe('outputs', () => {
  it('exports the API URL, table, bucket and Cognito ids', () => {
    const outputs = template.toJSON().Outputs as Json;
    for (const name of ['ApiUrl', 'TableName', 'BucketName', 'UserPoolId', 'UserPoolClientId']) expect(outputs, name).toHaveProperty(name);
  });
});

describe('cdk-nag AwsSolutions', () => {
  /** Every acknowledgement in the stack, and why it is acceptable, lives in the constructs; this is the complete list. */
  const ALLOWED = [
    /^AwsSolutions-IAM5\[Resource::\*\]$/, // X-Ray actions have no resource-level permissions
    /^AwsSolutions-IAM5\[Resource::<\w+\.Arn>\/index\/\*\]$/, // Query on the table's own GSIs
    /^AwsSolutions-S1$/, // server access logs: CloudTrail data events instead
    /^AwsSolutions-COG2$/, // MFA optional (service accounts)
    /^AwsSolutions-COG8$/, // Plus tier is a paid add-on
    /^AwsSolutions-COG4$/, // Lambda REQUEST authorizer instead of a Cognito authorizer (X-Auth-Token)
    /^AwsSolutions-APIG1$/, // access logs opt-in (account CloudWatch role)
    /^AwsSolutions-APIG2$/, // handlers validate with Glance's messages
    /^AwsSolutions-APIG3$/, // WAF attached at deployment
    /^AwsSolutions-APIG4$/, // version discovery and fallback are unauthenticated, as in Glance
    /^AwsSolutions-APIG6$/, // execution logs need the account CloudWatch role
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

  it('rejects contradictory or incomplete identity settings', () => {
    expect(() => readConfig(reader({ 'skyglass:createUserPool': 'false' }), {})).toThrow(/jwtIssuer/);
    expect(() => readConfig(reader({ 'skyglass:jwtIssuer': 'https://idp' }), {})).toThrow(/jwksUrl or skyglass:jwksJson/);
    expect(() => readConfig(reader({ 'skyglass:jwtIssuer': 'https://idp', 'skyglass:createUserPool': true, 'skyglass:jwksUrl': 'https://idp/k' }), {})).toThrow(/not both/);
    expect(() => readConfig(reader({ 'skyglass:jwtIssuer': 'https://idp', 'skyglass:jwksJson': '{"nokeys":1}' }), {})).toThrow(/JWKS/);
  });

  it('skips bundling with SKYGLASS_SKIP_BUNDLING=1 or skyglass:skipBundling', () => {
    expect(readConfig(reader({}), { SKYGLASS_SKIP_BUNDLING: '1' }).skipBundling).toBe(true);
    expect(readConfig(reader({ 'skyglass:skipBundling': 'true' }), {}).skipBundling).toBe(true);
  });
});

// Real bundling takes ~35 s, so a developer's `npm test` skips it unless asked; CI (CI=true) always runs it.
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
      const fns = [...Object.values(fullStack.functions), fullStack.authorizerFunction, fullStack.fallbackFunction];
      for (const fn of fns) {
        const cfn = fullTemplate.Resources[fullStack.getLogicalId(fn.node.defaultChild as CfnElement)]!;
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
