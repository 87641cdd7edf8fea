import { Duration, NestedStack, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Route, RouteRoom as RoomName } from '../../shared/routes.js';
import { claimPathParameter } from './api-paths.js';
import { SkyglassFunction, type AccessTargets } from './skyglass-function.js';

/** What a room is given by the ImageApi that holds it. */
export interface RouteRoomProps {
  readonly stage: string;
  /** The room's routes (all of one `room`), from the route table. */
  readonly routes: readonly Route[];
  /** The parent stack's REST API: the room adds methods to it (its deployment, stage and gateway responses stay in the parent). */
  readonly api: apigateway.RestApi;
  /** The parent's resources by path (`/`, `/v2`, `/v2/schemas`, ...): the room's paths hang under those, never recreate them. */
  readonly parentResources: ReadonlyMap<string, apigateway.IResource>;
  /** The parent's REQUEST authorizer, attached to the room's `auth: true` methods by id. */
  readonly authorizer: apigateway.IAuthorizer & { readonly authorizerId: string };
  /** The parent's fallback (404/405/300), on `ANY` of every resource the room creates, as the parent has on its own. */
  readonly fallbackFunction: lambda.IFunction;
  /** What the room's functions are granted on (the parent's table, ...). */
  readonly targets: AccessTargets;
  /**
   * Production retains log groups when the stack is deleted.
   * @default false
   */
  readonly production?: boolean;
  /**
   * Pre-initialized environments by operationId, for the room's routes only (see ImageApiProps).
   * @default none
   */
  readonly provisionedConcurrency?: Readonly<Record<string, number>>;
}

/**
 * A nested stack holding one room of routes (shared/routes.ts `room`): each route's function,
 * role, policies, log group, method and invoke permission, and the path resources and fallback
 * `ANY` methods the parent does not have. A CloudFormation stack holds at most 500 resources and
 * each route costs about 9; a room keeps a family of routes out of the parent's count, while
 * the API stays one REST API with one stage, one authorizer and one deployment (the parent's,
 * which depends on this stack and changes whenever the room's routes do).
 */
export class RouteRoom extends NestedStack {
  public readonly room: RoomName;
  /** The room's route functions by operationId. */
  public readonly functions: Readonly<Record<string, SkyglassFunction>>;
  /** The `live` aliases of the room's functions with provisioned concurrency, by operationId. */
  public readonly warmAliases: Readonly<Record<string, lambda.Alias>>;
  /** The REST API as the nested stack sees it (imported by id). */
  public readonly api: apigateway.IRestApi;
  /** The resources the room created, by path (its own, not the parent's). */
  public readonly resources: ReadonlyMap<string, apigateway.IResource>;

  constructor(scope: Construct, id: string, props: RouteRoomProps) {
    super(scope, id, { description: `Skyglass (${props.stage}): the ${props.routes[0]?.room ?? '?'} routes, a nested stack of the API` });
    const room = props.routes[0]?.room;
    if (!room || props.routes.some((r) => r.room !== room)) throw new Error(`RouteRoom ${id}: every route must name the same room`);
    this.room = room;
    const logRemovalPolicy = props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // The parent's API by id. Its stage is set by name (not by reference: the parent's stage
    // depends on its deployment, which depends on this stack), so each invoke permission is
    // scoped to its method on that stage, as the parent's are.
    const api = apigateway.RestApi.fromRestApiAttributes(this, 'Api', {
      restApiId: props.api.restApiId,
      rootResourceId: props.api.restApiRootResourceId,
    });
    api.deploymentStage = apigateway.Stage.fromStageAttributes(this, 'Stage', { restApi: api, stageName: props.stage }) as apigateway.Stage;
    this.api = api;

    const functions: Record<string, SkyglassFunction> = {};
    for (const route of props.routes) {
      const fn = new SkyglassFunction(this, route.operationId, {
        handlerPath: route.handler,
        description: `skyglass-${props.stage} ${route.method} ${route.path} (${route.operationId}): ${route.summary}`.slice(0, 256),
        logRemovalPolicy,
        ...(route.timeoutSeconds ? { timeout: Duration.seconds(route.timeoutSeconds) } : {}),
      });
      fn.grantAccess(route.access, props.targets);
      functions[route.operationId] = fn;
    }
    this.functions = functions;

    const warmAliases: Record<string, lambda.Alias> = {};
    for (const [name, count] of Object.entries(props.provisionedConcurrency ?? {})) {
      const fn = functions[name];
      if (!fn) throw new Error(`provisionedConcurrency names ${name}, which is no function of the ${room} room`);
      warmAliases[name] = new lambda.Alias(this, `${name}Live`, { aliasName: 'live', version: fn.currentVersion, provisionedConcurrentExecutions: count });
    }
    this.warmAliases = warmAliases;

    // --- resources ---------------------------------------------------------------------------
    // A path the parent has is imported (by id, once); one it lacks is created here, under the
    // nearest resource on its path. API Gateway allows one path parameter per level, across
    // both stacks, so the parent's parameters are checked too.
    const imported = new Map<string, apigateway.IResource>();
    const created = new Map<string, apigateway.IResource>();
    const variableChild = new Map<string, string>();
    for (const path of props.parentResources.keys()) {
      const segments = path.split('/').filter(Boolean);
      const last = segments.at(-1);
      if (last?.startsWith('{')) variableChild.set(segments.length > 1 ? `/${segments.slice(0, -1).join('/')}` : '/', last);
    }
    const parentOf = (path: string): apigateway.IResource => {
      const existing = created.get(path) ?? imported.get(path);
      if (existing) return existing;
      const shared = props.parentResources.get(path);
      if (!shared) throw new Error(`RouteRoom ${id}: no resource at ${path}`);
      const resource = apigateway.Resource.fromResourceAttributes(this, `Parent${path === '/' ? 'Root' : path.replace(/[^A-Za-z0-9]/g, '')}`, {
        restApi: api,
        resourceId: path === '/' ? props.api.restApiRootResourceId : shared.resourceId,
        path,
      });
      imported.set(path, resource);
      return resource;
    };
    const resourceFor = (routePath: string): apigateway.IResource => {
      let currentPath = '';
      let current: apigateway.IResource | undefined;
      for (const segment of routePath.split('/').filter(Boolean)) {
        const parentPath = currentPath || '/';
        currentPath += `/${segment}`;
        if (props.parentResources.has(currentPath)) {
          current = undefined; // resolved (imported) only if something is created under it
          continue;
        }
        let next = created.get(currentPath);
        if (!next) {
          claimPathParameter(variableChild, parentPath, segment, routePath);
          next = (current ?? parentOf(parentPath)).addResource(segment);
          created.set(currentPath, next);
        }
        current = next;
      }
      if (!current) throw new Error(`Route path ${routePath} of the ${room} room is a path of the parent stack: its method would belong there`);
      return current;
    };

    for (const route of props.routes) {
      // A room's route without auth would need APIG4 acknowledged with its own reason, as the parent's version discovery has.
      if (!route.auth) throw new Error(`${route.operationId}: a room holds authenticated routes only (version discovery stays in the parent)`);
      const resource = resourceFor(route.path);
      const fn = warmAliases[route.operationId] ?? (functions[route.operationId] as SkyglassFunction);
      // One invoke permission per method, scoped to it (see ImageApi).
      const integration = new apigateway.LambdaIntegration(fn, { proxy: true, allowTestInvoke: false });
      const method = resource.addMethod(route.method, integration, {
        operationName: route.operationId,
        // CDK's Authorizer refuses to attach to a second RestApi object; by id it is the same authorizer.
        authorizer: { authorizerId: props.authorizer.authorizerId, authorizationType: apigateway.AuthorizationType.CUSTOM },
        authorizationType: apigateway.AuthorizationType.CUSTOM,
      });
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-COG4',
        reason:
          'Authorization is the parent API\'s Lambda REQUEST authorizer verifying OIDC JWTs or Keystone tokens: Glance clients send the token in X-Auth-Token, which a Cognito authorizer cannot read.',
      });
    }
    this.resources = created;

    // Unknown methods on the room's paths: the parent's fallback, unauthenticated, as on every parent resource.
    const fallback = new apigateway.LambdaIntegration(props.fallbackFunction, { proxy: true, scopePermissionToMethod: false });
    for (const resource of created.values()) {
      const method = resource.addMethod('ANY', fallback, { authorizationType: apigateway.AuthorizationType.NONE });
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions-APIG4',
          reason: 'The fallback only answers 404/405/300 in Glance\'s error shape and touches no data; Glance answers these without authentication too.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason: 'The fallback is deliberately unauthenticated (see APIG4); protected routes use the REQUEST authorizer.',
        },
      );
    }
  }
}
