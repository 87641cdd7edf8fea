import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  gatewayResponses,
  gatewayResponseBody,
  type GatewayResponse,
  type GatewayResponseType,
} from '../../shared/http/gateway-responses.js';
import { BINARY_MEDIA_TYPES } from '../../shared/http/binary-media.js';
import { CONSOLE_ORIGIN_ENV } from '../../shared/http/cors.js';
import { AUTHORIZER_CACHE, AUTHORIZER_HANDLER, FALLBACK_HANDLER, ROUTES, type Route, type RouteRoom as RoomName } from '../../shared/routes.js';
import { AUTHORIZER_FUNCTION_NAME, type ProvisionedConcurrency } from '../config.js';
import { MetadefCatalogueSeed } from './metadef-catalogue-seed.js';
import { claimPathParameter } from './api-paths.js';
import { RouteRoom } from './route-room.js';
import { SkyglassFunction, type AccessTargets } from './skyglass-function.js';

/** The API's functions are granted on the targets (table, bucket, state machines, bus) that their routes' access kinds name. */
export interface ImageApiProps extends AccessTargets {
  readonly stage: string;
  /** Environment of the authorizer function (issuer, keys, claim names; or KEYSTONE_URL). */
  readonly authorizerEnvironment: Record<string, string>;
  /** Keystone mode: 401s name this Keystone (`WWW-Authenticate: Keystone uri=…`). */
  readonly keystoneUrl?: string;
  /**
   * Production retains log groups when the stack is deleted.
   * @default false
   */
  readonly production?: boolean;
  /**
   * Write API Gateway access logs to CloudWatch. Needs the account-level API Gateway CloudWatch
   * role (which this stack deliberately does not manage).
   * @default false
   */
  readonly accessLogs?: boolean;
  /**
   * Stage-wide throttling.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttling?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * The route table: routes without a room in this stack, each room's in a nested stack of its own (RouteRoom).
   * @default ROUTES from shared/routes.ts
   */
  readonly routes?: readonly Route[];
  /**
   * Pre-initialized environments by operationId (or `authorizer`). Each function named gets a
   * `live` alias on its current version with that many, and API Gateway invokes the alias.
   * @default none
   */
  readonly provisionedConcurrency?: ProvisionedConcurrency;
  /**
   * How long API Gateway caches the authorizer's decision per X-Auth-Token; 0 turns caching off
   * (and with it the X-Auth-Token requirement). See AUTHORIZER_CACHE.
   * @default AUTHORIZER_CACHE.defaultSeconds (300)
   */
  readonly authorizerCacheSeconds?: number;
}

/**
 * The Glance v2 REST API: one Lambda per route of the route table (construct id = operationId),
 * a REQUEST authorizer in front of every `auth: true` route, and a fallback Lambda on `ANY` of
 * every resource and on `/{proxy+}` that answers 404/405/300 as Glance does.
 */
export class ImageApi extends Construct {
  public readonly api: apigateway.RestApi;
  /** Route functions by operationId, the rooms' included. */
  public readonly functions: Readonly<Record<string, SkyglassFunction>>;
  /** The nested stacks of the routes with a room, by room. */
  public readonly rooms: Readonly<Partial<Record<RoomName, RouteRoom>>>;
  /** The deploy-time seed of the metadefs catalogue, in the metadefs room (when the routes have it). */
  public readonly catalogueSeed?: MetadefCatalogueSeed;
  public readonly authorizerFunction: SkyglassFunction;
  public readonly fallbackFunction: SkyglassFunction;
  public readonly authorizer: apigateway.RequestAuthorizer;
  /** The `live` aliases of the functions with provisioned concurrency, by operationId or `authorizer`. */
  public readonly warmAliases: Readonly<Record<string, lambda.Alias>>;
  /** Gateway responses by type (401, 403, 429, 5xx... that no function writes). */
  public readonly gatewayResponses: ReadonlyMap<string, apigateway.GatewayResponse>;
  /** Every resource created, by path (`/`, `/v2`, `/v2/images/{image_id}`, ...), excluding `/{proxy+}`. */
  public readonly resources: ReadonlyMap<string, apigateway.IResource>;

  constructor(scope: Construct, id: string, props: ImageApiProps) {
    super(scope, id);
    const allRoutes = props.routes ?? ROUTES;
    const routes = allRoutes.filter((route) => route.room === undefined);
    const roomRoutes = new Map<RoomName, Route[]>();
    for (const route of allRoutes) if (route.room !== undefined) roomRoutes.set(route.room, [...(roomRoutes.get(route.room) ?? []), route]);
    const logRemovalPolicy = props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const throttling = props.throttling ?? { rateLimit: 50, burstLimit: 100 };

    let accessLogGroup: logs.LogGroup | undefined;
    if (props.accessLogs) {
      accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: logRemovalPolicy,
      });
    }

    this.api = new apigateway.RestApi(this, 'RestApi', {
      restApiName: `skyglass-${props.stage}`,
      description: `Skyglass (OpenStack Glance Images API v2) - ${props.stage}`,
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // The account-wide API Gateway CloudWatch role is a singleton shared with other stacks;
      // managing it here would fight them (and outlive this stack).
      cloudWatchRole: false,
      // Every body reaches its function byte for byte: a body whose Content-Type is not listed
      // here would arrive UTF-8-decoded, its invalid bytes replaced (shared/http/binary-media.ts).
      // Bodies arrive base64-encoded, so the raw body that fits Lambda's 6 MB event is about 4.5 MB.
      binaryMediaTypes: [...BINARY_MEDIA_TYPES],
      deployOptions: {
        stageName: props.stage,
        tracingEnabled: true,
        throttlingRateLimit: throttling.rateLimit,
        throttlingBurstLimit: throttling.burstLimit,
        ...(accessLogGroup && {
          accessLogDestination: new apigateway.LogGroupLogDestination(accessLogGroup),
          accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        }),
      },
    });

    const answers = new Map<string, apigateway.GatewayResponse>();
    this.gatewayResponses = answers;
    for (const [type, response] of Object.entries(gatewayResponses({ keystoneUrl: props.keystoneUrl })) as Array<[GatewayResponseType, GatewayResponse]>) {
      answers.set(type, this.api.addGatewayResponse(`${type}Response`, {
        type: apigateway.ResponseType.of(type),
        statusCode: String(response.status),
        responseHeaders: {
          'Content-Type': "'application/json'",
          ...Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k, `'${v}'`])),
        },
        templates: { 'application/json': gatewayResponseBody(type) },
      }));
    }

    // --- functions -------------------------------------------------------------------------
    const targets: AccessTargets = {
      table: props.table,
      ...(props.bucket && { bucket: props.bucket }),
      ...(props.otherStores && { otherStores: props.otherStores }),
      ...(props.verifier && { verifier: props.verifier }),
      ...(props.scrubber && { scrubber: props.scrubber }),
      ...(props.eventBus && { eventBus: props.eventBus }),
      ...(props.dataSettings && { dataSettings: props.dataSettings }),
      ...(props.deleteSettings && { deleteSettings: props.deleteSettings }),
      ...(props.quotas && { quotas: props.quotas }),
    };
    const functions: Record<string, SkyglassFunction> = {};
    for (const route of routes) {
      const fn = new SkyglassFunction(this, route.operationId, {
        handlerPath: route.handler,
        description: `skyglass-${props.stage} ${route.method} ${route.path} (${route.operationId}): ${route.summary}`.slice(0, 256),
        logRemovalPolicy,
        ...(route.timeoutSeconds ? { timeout: Duration.seconds(route.timeoutSeconds) } : {}),
      });
      fn.grantAccess(route.access, targets);
      functions[route.operationId] = fn;
    }

    this.authorizerFunction = new SkyglassFunction(this, 'AuthorizerFunction', {
      handlerPath: AUTHORIZER_HANDLER,
      description: `skyglass-${props.stage} ${props.keystoneUrl ? 'Keystone' : 'JWT'} REQUEST authorizer`,
      timeout: Duration.seconds(5),
      environment: props.authorizerEnvironment,
      logRemovalPolicy,
    });

    this.fallbackFunction = new SkyglassFunction(this, 'FallbackFunction', {
      handlerPath: FALLBACK_HANDLER,
      description: `skyglass-${props.stage} fallback: 404/405/300 for what no route matches`,
      logRemovalPolicy,
    });

    // --- provisioned concurrency ----------------------------------------------------------
    // API Gateway invokes what `invoked` returns: the function itself, or its warm alias.
    const provisioned = props.provisionedConcurrency ?? {};
    const named: Record<string, SkyglassFunction> = { ...functions, [AUTHORIZER_FUNCTION_NAME]: this.authorizerFunction };
    const roomOf = new Map(allRoutes.filter((r) => r.room !== undefined).map((r) => [r.operationId, r.room as RoomName]));
    const warmAliases: Record<string, lambda.Alias> = {};
    for (const [name, count] of Object.entries(provisioned)) {
      if (roomOf.has(name)) continue; // made in its room, below
      const fn = named[name];
      if (!fn) throw new Error(`provisionedConcurrency names ${name}, which is no function of this API`);
      warmAliases[name] = new lambda.Alias(this, `${name}Live`, {
        aliasName: 'live',
        version: fn.currentVersion,
        provisionedConcurrentExecutions: count,
      });
    }
    this.warmAliases = warmAliases;
    const invoked = (name: string, fn: SkyglassFunction): lambda.IFunction => warmAliases[name] ?? fn;

    // --- authorizer ------------------------------------------------------------------------
    // A REQUEST authorizer's identity sources are both its cache key and required: API Gateway
    // answers 401 without calling the authorizer when any is missing (CDK joins several with ",",
    // so X-Auth-Token *and* Authorization would both be required). Tokens arrive in X-Auth-Token
    // (every glance/openstack client) or Authorization: Bearer, so caching is keyed by
    // X-Auth-Token alone; with caching off there is no identity source and Bearer alone works.
    // The authorizer allows the whole stage, so a cached decision serves every route.
    const cacheSeconds = props.authorizerCacheSeconds ?? AUTHORIZER_CACHE.defaultSeconds;
    this.authorizer = new apigateway.RequestAuthorizer(this, 'JwtAuthorizer', {
      authorizerName: `skyglass-${props.stage}-jwt`,
      handler: invoked(AUTHORIZER_FUNCTION_NAME, this.authorizerFunction),
      identitySources: cacheSeconds > 0 ? [apigateway.IdentitySource.header(AUTHORIZER_CACHE.identityHeader)] : [],
      resultsCacheTtl: Duration.seconds(cacheSeconds),
    });
    if (cacheSeconds === 0) {
      // CDK renders the empty list as IdentitySource: "" (a join of nothing). Remove the property
      // so CloudFormation sends none, which is the documented form for "no identity source".
      (this.authorizer.node.defaultChild as apigateway.CfnAuthorizer).addPropertyDeletionOverride('IdentitySource');
    }

    // --- resources and methods -------------------------------------------------------------
    const resources = new Map<string, apigateway.IResource>([['/', this.api.root]]);
    /** The path-parameter child of each resource path: API Gateway allows one per level. */
    const variableChild = new Map<string, string>();
    const resourceFor = (routePath: string): apigateway.IResource => {
      let current: apigateway.IResource = this.api.root;
      let currentPath = '';
      for (const segment of routePath.split('/').filter(Boolean)) {
        const parentPath = currentPath || '/';
        currentPath += `/${segment}`;
        let next = resources.get(currentPath);
        if (!next) {
          claimPathParameter(variableChild, parentPath, segment, routePath);
          next = current.addResource(segment);
          resources.set(currentPath, next);
        }
        current = next;
      }
      return current;
    };

    for (const route of routes) {
      const resource = resourceFor(route.path);
      const fn = invoked(route.operationId, functions[route.operationId] as SkyglassFunction);
      // One invoke permission per method, scoped to it. Without allowTestInvoke: false CDK adds a
      // second for the console's test-invoke stage on every method, and a stack holds only 500
      // resources (test/infra "CloudFormation limits").
      const integration = new apigateway.LambdaIntegration(fn, { proxy: true, allowTestInvoke: false });
      const method = resource.addMethod(route.method, integration, {
        operationName: route.operationId,
        ...(route.auth
          ? { authorizer: this.authorizer, authorizationType: apigateway.AuthorizationType.CUSTOM }
          : { authorizationType: apigateway.AuthorizationType.NONE }),
      });
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions-COG4',
          reason:
            'Authorization is a Lambda REQUEST authorizer verifying OIDC JWTs (Cognito or an external issuer): Glance clients send the token in X-Auth-Token, which a Cognito authorizer cannot read.',
        },
        ...(route.auth
          ? []
          : [
              {
                id: 'AwsSolutions-APIG4',
                reason: `${route.operationId} is version discovery, which Glance serves without authentication (clients call it before they have a token).`,
              },
            ]),
      );
    }
    this.resources = resources;

    // --- rooms: nested stacks of routes --------------------------------------------------------
    const rooms: Partial<Record<RoomName, RouteRoom>> = {};
    const allFunctions: Record<string, SkyglassFunction> = { ...functions };
    const deployment = this.api.latestDeployment;
    if (roomRoutes.size > 0 && !deployment) throw new Error('ImageApi: rooms need the API\'s own deployment');
    for (const [room, members] of roomRoutes) {
      const nested = new RouteRoom(this, `${room.charAt(0).toUpperCase()}${room.slice(1)}Routes`, {
        stage: props.stage,
        routes: members,
        api: this.api,
        parentResources: resources,
        authorizer: this.authorizer,
        fallbackFunction: this.fallbackFunction,
        targets,
        ...(props.production !== undefined && { production: props.production }),
        provisionedConcurrency: Object.fromEntries(Object.entries(provisioned).filter(([name]) => roomOf.get(name) === room)),
      });
      rooms[room] = nested;
      // The metadefs catalogue is seeded at deploy time too, beside the functions that serve it.
      if (room === 'metadefs') {
        this.catalogueSeed = new MetadefCatalogueSeed(nested, 'CatalogueSeed', {
          stage: props.stage,
          targets,
          ...(props.production !== undefined && { production: props.production }),
        });
      }
      Object.assign(allFunctions, nested.functions);
      Object.assign(warmAliases, nested.warmAliases);
      // The stage serves what its deployment snapshotted: the deployment is made after the room's
      // methods exist, and is a new one whenever the room's routes change (CDK does both for the
      // parent's own methods, but not for methods of an imported API).
      deployment!.node.addDependency(nested);
      // A warm alias changes what a method invokes, so it is part of what the deployment serves too.
      deployment!.addToLogicalId({ room, routes: members.map((r) => [r.method, r.path, r.operationId, r.auth, r.handler]), warm: Object.keys(nested.warmAliases).sort() });
    }
    this.rooms = rooms;
    this.functions = allFunctions;

    // Unknown methods on known paths (405), unversioned or unknown paths (300/404): one Lambda,
    // no authorizer, so the answer does not depend on having a token, as in Glance.
    // One API-wide invoke permission instead of one per method keeps its resource policy small.
    const fallback = new apigateway.LambdaIntegration(this.fallbackFunction, { proxy: true, scopePermissionToMethod: false });
    const fallbackMethods: apigateway.Method[] = [];
    for (const resource of resources.values()) {
      fallbackMethods.push(resource.addMethod('ANY', fallback, { authorizationType: apigateway.AuthorizationType.NONE }));
    }
    fallbackMethods.push(
      this.api.root.addResource('{proxy+}').addMethod('ANY', fallback, { authorizationType: apigateway.AuthorizationType.NONE }),
    );
    for (const method of fallbackMethods) {
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions-APIG4',
          reason: 'The fallback only answers 404/405/300 in Glance\'s error shape and touches no data; Glance answers these without authentication too.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason: 'The fallback is deliberately unauthenticated (see APIG4); protected routes use the JWT REQUEST authorizer.',
        },
      );
    }

    // --- stage-wide suppressions -------------------------------------------------------------
    // Acknowledged on the RestApi so they cover its children (the stage and deployment).
    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'Each handler validates its request against Glance\'s JSON schemas and answers Glance\'s 400 messages; an API Gateway validator would answer in its own shape first.',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason: 'WAF is an account/edge concern with per-request cost; attach a web ACL at deployment where required. Stage throttling is on.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging requires the account-level API Gateway CloudWatch role, which this stack does not manage (cloudWatchRole: false). Every Lambda logs to its own log group and X-Ray tracing is on.',
      },
      ...(props.accessLogs
        ? []
        : [
            {
              id: 'AwsSolutions-APIG1',
              reason:
                'Access logging is opt-in (context skyglass:accessLogs=true) because it needs the account-level API Gateway CloudWatch role, which this stack does not manage.',
            },
          ]),
    );
  }

  /**
   * Lets the browser console at `origin` (another origin than the API's) call it: every function
   * answers it with CORS headers and the fallback its preflights (shared/http/cors.ts), and the
   * gateway's own answers (a 401 from the authorizer, throttling) carry Access-Control-Allow-Origin
   * too, so the console can read why it was refused.
   */
  allowBrowserOrigin(origin: string): void {
    for (const fn of [...Object.values(this.functions), this.fallbackFunction]) fn.addEnvironment(CONSOLE_ORIGIN_ENV, origin);
    for (const response of this.gatewayResponses.values()) {
      (response.node.defaultChild as apigateway.CfnGatewayResponse).addPropertyOverride(
        'ResponseParameters.gatewayresponse\\.header\\.Access-Control-Allow-Origin',
        `'${origin}'`,
      );
    }
  }
}

