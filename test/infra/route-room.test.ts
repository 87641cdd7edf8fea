/**
 * The route rooms (infra/constructs/route-room.ts): the routes with a `room` (today the 29
 * metadefs routes) live in a nested stack of their own, so the parent stays within
 * CloudFormation's 500 resources, while the API stays one REST API, one stage, one authorizer
 * and one deployment. Each room's route is checked here as test/infra/stack.test.ts checks the
 * parent's: its method, integration, authorizer, function, invoke permission and grants.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, CfnResource, Stack, type CfnElement } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../infra/config.js';
import { ImageApi } from '../../infra/constructs/image-api.js';
import { ImageTable } from '../../infra/constructs/image-table.js';
import { METADEF_GRANTS } from '../../infra/constructs/skyglass-function.js';
import { SkyglassStack, stackPropsFrom } from '../../infra/stack.js';
import { METADEF_SEEDING_FUNCTION } from '../../shared/app/metadef-services.js';
import { CATALOGUE_VERSION } from '../../shared/domain/metadef-catalogue.js';
import { PARENT_STACK_ROUTES, ROUTES, type Route } from '../../shared/routes.js';
import { inParent, nestedStacksOf, resourceOf, templateOf } from './nested-templates.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CDK_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
type Json = Record<string, any>;
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const ROOMED = ROUTES.filter((r) => r.room !== undefined);

let stack: SkyglassStack;
let parent: Record<string, Json>;
let room: NonNullable<SkyglassStack['imageApi']['rooms']['metadefs']>;
let nested: Record<string, Json>;

beforeAll(() => {
  const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], 'skyglass:console': false } });
  stack = new SkyglassStack(app, 'SkyglassRooms', stackPropsFrom(readConfig((key) => app.node.tryGetContext(key), {})));
  parent = templateOf(stack).Resources as Record<string, Json>;
  room = stack.imageApi.rooms.metadefs!;
  nested = templateOf(room).Resources as Record<string, Json>;
}, 120_000);

const parentId = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const nestedId = (c: IConstruct) => room.getLogicalId(c.node.defaultChild as CfnElement);
/** A nested value as the parent writes it (its Parameters replaced by what the parent passes). */
const up = (value: unknown) => inParent(room, value);

/** The path of a resource of either template, from its PathPart and ParentId. */
function resourcePath(ref: Json): string {
  const parentRef = up(ref) as Json;
  if (parentRef['Fn::GetAtt']?.[1] === 'RootResourceId') return '/';
  const id = (typeof ref.Ref === 'string' && nested[ref.Ref] ? ref.Ref : parentRef.Ref) as string;
  const resource = nested[id] ?? parent[id];
  if (!resource || resource.Type !== 'AWS::ApiGateway::Resource') throw new Error(`not a resource: ${JSON.stringify(ref)}`);
  const above = nested[id] ? resourcePath(resource.Properties.ParentId) : resourcePathInParent(resource.Properties.ParentId);
  return `${above === '/' ? '' : above}/${resource.Properties.PathPart}`;
}
function resourcePathInParent(ref: Json): string {
  if (ref['Fn::GetAtt']?.[1] === 'RootResourceId') return '/';
  const resource = parent[ref.Ref as string]!;
  const above = resourcePathInParent(resource.Properties.ParentId);
  return `${above === '/' ? '' : above}/${resource.Properties.PathPart}`;
}

const nestedMethods = () =>
  Object.entries(nested).filter(([, r]) => r.Type === 'AWS::ApiGateway::Method').map(([id, r]) => ({ id, props: r.Properties as Json, path: resourcePath(r.Properties.ResourceId) }));

describe('route rooms (nested stacks of routes)', () => {
  it('puts every route with a room in its room\'s nested stack, and every other route in the parent', () => {
    expect(ROOMED.length).toBe(29);
    expect(nestedStacksOf(stack).map((s) => s.node.id)).toEqual(['MetadefsRoutes']);
    expect(Object.keys(room.functions).sort()).toEqual(ROOMED.map((r) => r.operationId).sort());
    for (const route of ROOMED) expect(Stack.of(stack.functions[route.operationId]!), route.operationId).toBe(room);
    for (const route of PARENT_STACK_ROUTES) expect(Stack.of(stack.functions[route.operationId]!), route.operationId).toBe(stack);
    // Functions, roles and log groups of the room are in its template, none in the parent's.
    for (const fn of Object.values(room.functions)) {
      expect(nested[nestedId(fn)]?.Type).toBe('AWS::Lambda::Function');
      expect(nested[nestedId(fn.serviceRole)]?.Type).toBe('AWS::IAM::Role');
      expect(nested[nestedId(fn.functionLogGroup)]?.Type).toBe('AWS::Logs::LogGroup');
    }
    expect(Object.values(parent).filter((r) => r.Type === 'AWS::Lambda::Function' && /metadef/i.test(JSON.stringify(r.Properties.Description ?? '')))).toEqual([]);
  });

  it('costs the parent at most 5 resources, and the nested stack stays within 500', () => {
    const ofRoom = stack.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && Stack.of(c) === stack && c.node.path.includes('/MetadefsRoutes'));
    const counts = { parent: Object.keys(parent).length, parentForRooms: ofRoom.length, nested: Object.keys(nested).length };
    console.log(`CloudFormation resources with the rooms: ${JSON.stringify(counts)} (limit 500 each)`);
    expect(ofRoom.map((r) => r.cfnResourceType)).toEqual(['AWS::CloudFormation::Stack']);
    expect(counts.parentForRooms).toBeLessThanOrEqual(5);
    expect(counts.nested).toBeLessThanOrEqual(500);
    // About 8 a route: function, role, its two policies, log group, method, invoke permission, and the fallback ANY on new paths.
    expect(counts.nested).toBeGreaterThanOrEqual(ROOMED.length * 7);
  });

  it('adds every room route to the parent API as a method with its operation name, the parent\'s authorizer and its own function', () => {
    const methods = nestedMethods();
    const authorizer = { Ref: parentId(stack.imageApi.authorizer) };
    const restApi = { Ref: parentId(stack.api) };
    for (const route of ROOMED) {
      const found = methods.filter((m) => m.props.HttpMethod === route.method && m.path === route.path);
      expect(found, `${route.method} ${route.path}`).toHaveLength(1);
      const { props } = found[0]!;
      expect(props.OperationName).toBe(route.operationId);
      expect(up(props.RestApiId)).toEqual(restApi);
      expect(props.AuthorizationType, route.operationId).toBe('CUSTOM');
      expect(up(props.AuthorizerId), route.operationId).toEqual(authorizer);
      expect(props.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
      expect(props.Integration.ContentHandling).toBeUndefined();
      expect(JSON.stringify(props.Integration.Uri), route.operationId).toContain(`"${nestedId(room.functions[route.operationId]!)}"`);
    }
  });

  it('hangs the room\'s paths under the parent\'s /v2 and /v2/schemas, and sends unmatched methods on them to the parent\'s fallback, without authorization', () => {
    const methods = nestedMethods();
    const created = Object.entries(nested).filter(([, r]) => r.Type === 'AWS::ApiGateway::Resource').map(([, r]) => resourcePath({ Ref: Object.keys(nested).find((k) => nested[k] === r)! }));
    const parentPaths = new Set(PARENT_STACK_ROUTES.flatMap((r) => r.path.split('/').filter(Boolean).map((_, i, all) => `/${all.slice(0, i + 1).join('/')}`)));
    const expected = new Set(ROOMED.flatMap((r) => r.path.split('/').filter(Boolean).map((_, i, all) => `/${all.slice(0, i + 1).join('/')}`)).filter((p) => !parentPaths.has(p)));
    expect(created.sort()).toEqual([...expected].sort());
    expect(created).toEqual(expect.arrayContaining(['/v2/metadefs', '/v2/schemas/metadefs', '/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}']));
    const fallback = parentId(stack.fallbackFunction);
    const any = methods.filter((m) => m.props.HttpMethod === 'ANY');
    expect(any.map((m) => m.path).sort()).toEqual([...expected].sort());
    for (const m of any) {
      expect(m.props.AuthorizationType, m.path).toBe('NONE');
      expect(JSON.stringify(up(m.props.Integration.Uri)), m.path).toContain(`"${fallback}"`);
    }
    expect(methods).toHaveLength(ROOMED.length + expected.size);
  });

  it("grants each room route's function one invoke, from its own method on the parent's stage", () => {
    const permissions = Object.values(nested).filter((r) => r.Type === 'AWS::Lambda::Permission');
    for (const route of ROOMED) {
      const own = permissions.filter((p) => JSON.stringify(p.Properties.FunctionName).includes(`"${nestedId(room.functions[route.operationId]!)}"`));
      expect(own, route.operationId).toHaveLength(1);
      const source = JSON.stringify(up(own[0]!.Properties.SourceArn));
      expect(source, route.operationId).toContain(`/dev/${route.method}/`);
      expect(source).toContain(`"${parentId(stack.api)}"`);
    }
    // The fallback's, API-wide (as the parent's), is the only other.
    expect(permissions).toHaveLength(ROOMED.length + 1);
  });

  it('deploys the room with the parent\'s one deployment: made after the nested stack, a new one when the room\'s routes change', () => {
    const deployment = stack.api.latestDeployment!;
    // The deployment's logical id carries a hash of what it deploys (CDK renames it at synthesis).
    const cfn = parent[stack.resolve((deployment.node.defaultChild as CfnElement).logicalId) as string]!;
    expect(asArray(cfn.DependsOn)).toContain(stack.getLogicalId(room.nestedStackResource as CfnElement));
    const deploymentId = (routes: readonly Route[]) => {
      const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Deploys');
      const api = new ImageApi(scope, 'Api', { stage: 'dev', table: new ImageTable(scope, 'Images', {}).table, authorizerEnvironment: {}, routes });
      return scope.resolve((api.api.latestDeployment!.node.defaultChild as CfnElement).logicalId) as string;
    };
    const few = [...PARENT_STACK_ROUTES.filter((r) => r.access.length === 0), ...ROOMED.filter((r) => r.access.length <= 1)];
    const renamed = few.map((r) => (r.operationId === 'getMetadefSchema' ? { ...r, path: '/v2/schemas/metadefs/{schema}' } : r));
    expect(deploymentId(few)).toBe(deploymentId(few));
    expect(deploymentId(renamed)).not.toBe(deploymentId(few));
    expect(deploymentId(few.filter((r) => r.operationId !== 'listMetadefTags'))).not.toBe(deploymentId(few));
    // A warm alias on a room's function changes what its method invokes: a new deployment too.
    const warm = () => {
      const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Warm');
      const api = new ImageApi(scope, 'Api', { stage: 'dev', table: new ImageTable(scope, 'Images', {}).table, authorizerEnvironment: {}, routes: few, provisionedConcurrency: { listMetadefTags: 1 } });
      const method = api.rooms.metadefs!.node.findAll().find((c) => c instanceof CfnResource && c.cfnResourceType === 'AWS::ApiGateway::Method' && c.node.path.endsWith('/tags/GET/Resource')) as CfnResource;
      expect(JSON.stringify(templateOf(api.rooms.metadefs!).Resources[api.rooms.metadefs!.getLogicalId(method)].Properties.Integration.Uri)).toContain('listMetadefTagsLive');
      return scope.resolve((api.api.latestDeployment!.node.defaultChild as CfnElement).logicalId) as string;
    };
    expect(warm()).not.toBe(deploymentId(few));
  });

  it("grants each room function exactly its access kinds' actions on the parent's table (through the nested stack's parameters)", () => {
    const tableArn = { 'Fn::GetAtt': [parentId(stack.table), 'Arn'] };
    for (const route of ROOMED) {
      const fn = room.functions[route.operationId]!;
      const roleId = nestedId(fn.serviceRole);
      const statements = Object.values(nested)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && asArray(r.Properties.Roles as Json[]).some((ref) => ref.Ref === roleId))
        .flatMap((r) => r.Properties.PolicyDocument.Statement as Json[]);
      const dynamo = statements.filter((s) => asArray(s.Action as string[]).some((a) => a.startsWith('dynamodb:')));
      const expected = [...new Set(route.access.flatMap((kind) => [...METADEF_GRANTS[kind as keyof typeof METADEF_GRANTS]]))].sort();
      expect(dynamo.flatMap((s) => asArray(s.Action as string[])).sort(), route.operationId).toEqual(expected);
      for (const s of dynamo) {
        expect(asArray(up(s.Resource) as Json), route.operationId).toEqual([tableArn]);
        // Only the catalogue's and the namespaces' partitions (METADEFS, METADEF#<uuid>): no image, member, task or usage item.
        expect(s.Condition, route.operationId).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['METADEF*'] } });
      }
      const variables = nested[nestedId(fn)]!.Properties.Environment?.Variables ?? {};
      if (route.access.length > 0) expect(up(variables.TABLE_NAME), route.operationId).toEqual({ Ref: parentId(stack.table) });
      else expect(variables.TABLE_NAME, route.operationId).toBeUndefined();
      for (const key of ['BUCKET_NAME', 'VERIFIER_STATE_MACHINE_ARN', 'SCRUBBER_STATE_MACHINE_ARN', 'EVENT_BUS_NAME']) expect(variables[key], `${route.operationId} ${key}`).toBeUndefined();
    }
  });

  it('passes cdk-nag on the nested stack, acknowledging only the parent\'s rules', () => {
    const report = new AwsSolutionsChecks(stack.node.root as App).validateScope(room);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('refuses a function holding both metadefs and image table access (the metadefs grants are limited to metadefs keys)', () => {
    const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Mixed');
    const table = new ImageTable(scope, 'Images', {}).table;
    const mixed: Route = { ...ROOMED[0]!, access: ['metadefs:read', 'table:read'] };
    expect(() => new ImageApi(scope, 'Api', { stage: 'dev', table, authorizerEnvironment: {}, routes: [mixed] })).toThrow(/metadefs:\* and table:\* access in one function/);
  });

  it('keeps a room route out of the parent: a room whose path is all the parent\'s is refused', () => {
    const scope = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Refused');
    const table = new ImageTable(scope, 'Images', {}).table;
    const schema = PARENT_STACK_ROUTES.find((r) => r.operationId === 'getSchema')!;
    const clash: Route = { ...ROOMED[0]!, operationId: 'clash', method: 'PUT', path: schema.path };
    expect(() => new ImageApi(scope, 'Api', { stage: 'dev', table, authorizerEnvironment: {}, routes: [schema, clash] })).toThrow(/is a path of the parent stack/);
  });
});

describe('the metadefs catalogue seed at deploy time', () => {
  it('is a custom resource in the metadefs room whose ServiceToken is its own function, and a new catalogue version is an Update', () => {
    const seed = stack.imageApi.catalogueSeed!;
    expect(Stack.of(seed.function)).toBe(room);
    const custom = Object.entries(nested).filter(([, r]) => r.Type === 'Custom::SkyglassMetadefCatalogueSeed');
    expect(custom).toHaveLength(1);
    const [, resource] = custom[0]!;
    expect(resource.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [nestedId(seed.function), 'Arn'] });
    expect(resource.Properties.CatalogueVersion).toBe(CATALOGUE_VERSION);
    // No Provider framework: the function answers CloudFormation itself (its only other resources are its role, policies and log group).
    expect(Object.values(nested).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(ROOMED.length + 1);
    const fn = nested[nestedId(seed.function)]!.Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 120, TracingConfig: { Mode: 'Active' } });
    expect(up(fn.Environment.Variables.TABLE_NAME)).toEqual({ Ref: parentId(stack.table) });
  });

  it("is granted exactly what the seeding route is (the seed npm start runs as it), on the parent's table", () => {
    const seed = stack.imageApi.catalogueSeed!;
    const seeding = ROUTES.find((r) => r.operationId === METADEF_SEEDING_FUNCTION)!;
    const roleId = nestedId(seed.function.serviceRole);
    const statements = Object.values(nested)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && asArray(r.Properties.Roles as Json[]).some((ref) => ref.Ref === roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Json[]);
    const pairs = statements.flatMap((s) => asArray(s.Action as string[]).flatMap((a) => asArray(up(s.Resource) as Json).map((r) => `${a} on ${JSON.stringify(r)}`)));
    const expected = [
      ...['logs:CreateLogStream', 'logs:PutLogEvents'].map((a) => `${a} on ${JSON.stringify({ 'Fn::GetAtt': [nestedId(seed.function.functionLogGroup), 'Arn'] })}`),
      ...['xray:PutTelemetryRecords', 'xray:PutTraceSegments'].map((a) => `${a} on "*"`),
      ...[...new Set(seeding.access.flatMap((kind) => [...METADEF_GRANTS[kind as keyof typeof METADEF_GRANTS]]))].map((a) => `${a} on ${JSON.stringify({ 'Fn::GetAtt': [parentId(stack.table), 'Arn'] })}`),
    ];
    expect([...new Set(pairs)].sort()).toEqual(expected.sort());
    for (const statement of statements.filter((st) => asArray(st.Action as string[]).some((action) => action.startsWith('dynamodb:')))) {
      expect(statement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['METADEF*'] } });
    }
  });
});
