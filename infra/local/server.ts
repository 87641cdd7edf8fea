import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { takeLongUploads } from '../../shared/http/upload-server.js';
import type { Duplex } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
  DynamoDBBatchResponse,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { MAX_EVENT_BYTES, MAX_GATEWAY_BODY_BYTES } from '../../shared/http/gateway-responses.js';
import {
  answerParserError,
  answerRaw,
  authorizeEvent,
  gatewayError,
  invocationContext,
  proxyEvent,
  readBody,
  requestUrl,
  routeRequest,
  sendResult,
  type EventOrigin,
} from '../../shared/http/proxy-event.js';
import { runAsFunction } from '../../shared/adapters/aws-call-log.js';
import { METADEF_SEEDING_FUNCTION, metadefContext } from '../../shared/app/metadef-services.js';
import { seed as seedMetadefs } from '../../shared/app/metadefs.js';
import { AUTHORIZER_HANDLER, DATA_FRONT, FALLBACK_HANDLER, WORKERS, type Route } from '../../shared/routes.js';
import { SCRUB_FUNCTION_ARN, scrubberDefinition } from '../../shared/workflows/scrubber.js';
import { FETCH_FUNCTION_ARN, VERIFY_FUNCTION_ARN, verifierDefinition } from '../../shared/workflows/verifier.js';
import { startLocalEventBridge, type LocalEventBridge } from './event-bridge.js';
import { startLocalS3, type LocalS3 } from './s3/index.js';
import { startLocalStepFunctions, type LocalStepFunctions } from './step-functions.js';
import { startLocalTableStream } from './table-stream.js';
import { ensureTable, startDynamoDbLocal, type LocalDynamo } from './dynamodb.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, loadOrCreateDevKey, publicJwks, type DevKey } from './dev-key.js';
import { isConsolePath, serveConsole, type ConsoleOptions } from './console-server.js';
import { policyOverridesFromFile, propertyProtectionsFromFile } from '../policy-file.js';
import { quotasEnvironment } from './quotas-file.js';
import { checkKeystoneUrl } from '../config.js';
import { parseStores, type StoreDefinition } from '../../shared/domain/stores.js';
import { STREAMED_OPERATIONS, streamedDataRequest } from '../../shared/http/data-front.js';

/**
 * The local runtime: API Gateway (REST, Lambda proxy) emulated on one port, in front of the
 * very handlers the stack deploys, dispatched by the same route table, with DynamoDB Local
 * behind them. Events, the authorizer step, gateway responses and payload limits follow AWS.
 */
export interface LocalRuntimeOptions {
  port?: number;
  host?: string;
  dataDir: string;
  /** Keep DynamoDB in memory (tests) instead of under dataDir. */
  inMemory?: boolean;
  /**
   * An operator's policy file (Glance's YAML or JSON syntax), read and validated before anything
   * starts; a broken one stops the runtime with a PolicyFileError naming the file and rule.
   * @default process.env.POLICY_FILE (none: Glance's defaults)
   */
  policyFile?: string;
  /**
   * Glance's property_protection_file (roles format), read and validated like the policy file.
   * @default process.env.PROPERTY_PROTECTION_FILE (none: no protections)
   */
  propertyProtectionFile?: string;
  /**
   * The data front: PUT /file and PUT /stage bodies the API tier cannot take (over its limit, or
   * chunked) stream through shared/http/data-front.ts instead of getting the gateway's 413.
   * @default true, unless SKYGLASS_DATA_FRONT is "off" (then the limits are the serverless stack's)
   */
  dataFront?: boolean;
  /**
   * An S3 emulator already running elsewhere (startLocalS3 with LOCAL_S3 below, e.g. in another
   * process: the bench measures the data front's own memory that way) instead of one started here.
   */
  s3Endpoint?: string;
  /**
   * Keystone mode (DESIGN §5): tokens are an OpenStack cloud's, validated by this Keystone,
   * instead of JWTs signed with the dev key.
   * @default process.env.KEYSTONE_URL (none: JWT mode)
   */
  keystoneUrl?: string;
}

export interface LocalRuntime {
  url: string;
  dynamodbEndpoint: string;
  tableName: string;
  s3Endpoint: string;
  /** The default store's bucket. */
  bucket: string;
  /** The stores the runtime serves (empty when SKYGLASS_STORES=off: one implicit store in `bucket`). */
  stores: StoreDefinition[];
  /** Resolves when no state machine execution is running. */
  workflowsIdle(): Promise<void>;
  /** JSON lines, one published event each. */
  eventsFile: string;
  eventsEndpoint: string;
  stop(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');
type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const BUCKET = 'skyglass-local-images';
const TABLE = 'skyglass-local-images';
const VERIFIER_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:skyglass-local-verifier`;
const SCRUBBER_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:skyglass-local-scrubber`;
/** The local restore window, unless SCRUB_DELAY_SECONDS says otherwise (Glance's reference setup uses 30 s). */
const LOCAL_SCRUB_DELAY_SECONDS = '30';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** The emulated API's stage, as the events name it. */
const LOCAL_ORIGIN: EventOrigin = { stage: 'local', apiId: 'local', accountId: ACCOUNT, forwarded: 'from-socket' };
/**
 * The local stores: two emulated buckets by default (`us`, the default, in the bucket the runtime
 * always used; `eu` beside it), so multi-store works out of the box. SKYGLASS_STORES changes them:
 * a JSON list as `skyglass:stores` (each store's `bucket` defaults to skyglass-local-<id>), or
 * `off` for one implicit store, as a stack without `skyglass:stores`. The emulator signs in one
 * region, so every local store is in it.
 */
export const DEFAULT_LOCAL_STORES: readonly StoreDefinition[] = [
  { id: 'us', bucket: BUCKET, region: REGION, description: 'Local store (emulated bucket skyglass-local-images)', default: true },
  { id: 'eu', bucket: `${BUCKET}-eu`, region: REGION, description: 'Second local store (emulated bucket skyglass-local-images-eu)', default: false },
];

export function localStores(text: string | undefined = process.env.SKYGLASS_STORES): StoreDefinition[] {
  if (text === undefined || text.trim() === '') return [...DEFAULT_LOCAL_STORES];
  if (text.trim() === 'off') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('SKYGLASS_STORES is neither "off" nor JSON (a list of stores as skyglass:stores takes)');
  }
  const stores = parseStores(parsed, 'SKYGLASS_STORES', REGION, (id) => `skyglass-local-${id.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`);
  const elsewhere = stores.find((s) => s.region !== REGION);
  if (elsewhere) throw new Error(`SKYGLASS_STORES: store "${elsewhere.id}" is in ${elsewhere.region}, but the local S3 emulator signs in ${REGION} only`);
  return stores;
}

/** What the runtime's S3 emulator is started with (its data directory aside). */
export const LOCAL_S3 = { buckets: [...new Set([BUCKET, ...DEFAULT_LOCAL_STORES.map((s) => s.bucket)])], region: REGION, ...CREDENTIALS } as const;

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  // Configuration first: a bad file stops start-up before any emulator runs.
  const quotas = quotasEnvironment(process.env.QUOTAS_FILE);
  const stores = localStores();
  const defaultBucket = stores.find((s) => s.default)?.bucket ?? BUCKET;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error) => console.error(error));
  };
  let dynamo: LocalDynamo;
  let s3: Pick<LocalS3, 'endpoint'>;
  let stepFunctions: LocalStepFunctions;
  let eventBridge: LocalEventBridge;
  let key: DevKey;
  const policyFile = options.policyFile ?? (process.env.POLICY_FILE || undefined);
  const policyOverrides = policyFile ? policyOverridesFromFile(policyFile) : '{}';
  const protectionFile = options.propertyProtectionFile ?? (process.env.PROPERTY_PROTECTION_FILE || undefined);
  const propertyProtections = protectionFile ? propertyProtectionsFromFile(protectionFile) : '[]';
  const keystoneText = options.keystoneUrl ?? (process.env.KEYSTONE_URL || undefined);
  const keystoneUrl = keystoneText ? checkKeystoneUrl(keystoneText, 'KEYSTONE_URL') : '';
  try {
    dynamo = await startDynamoDbLocal(options.inMemory ? null : join(options.dataDir, 'dynamodb'), options.dataDir);
    stops.push(() => dynamo.stop());
    const newTable = await ensureTable(dynamo.client, TABLE);
    if (options.s3Endpoint) s3 = { endpoint: options.s3Endpoint };
    else {
      const started = await startLocalS3({ ...LOCAL_S3, buckets: [...new Set([...LOCAL_S3.buckets, ...stores.map((s) => s.bucket)])], dataDir: options.inMemory ? null : join(options.dataDir, 's3') });
      stops.push(() => started.stop());
      s3 = started;
    }
    stepFunctions = await startLocalStepFunctions([
      {
        arn: VERIFIER_ARN,
        definition: substitute(verifierDefinition(), { [VERIFY_FUNCTION_ARN]: workerArn('verifyImage'), [FETCH_FUNCTION_ARN]: workerArn('fetchImage') }),
        tasks: {
          Fetch: invokeWorker('fetchImage'),
          FetchGiveUp: invokeWorker('fetchImage'),
          Verify: invokeWorker('verifyImage'),
          GiveUp: invokeWorker('verifyImage'),
          Copy: invokeWorker('verifyImage'),
          CopyGiveUp: invokeWorker('verifyImage'),
        },
        retryIntervals: retryOverrides(['Fetch', 'FetchGiveUp', 'Verify', 'GiveUp', 'Copy', 'CopyGiveUp']),
      },
      {
        arn: SCRUBBER_ARN,
        definition: substitute(scrubberDefinition(), { [SCRUB_FUNCTION_ARN]: workerArn('scrubImage') }),
        tasks: Object.fromEntries(['Claim', 'DeleteData', 'MarkDeleted', 'RecordFailure'].map((state) => [state, invokeWorker('scrubImage')])),
        retryIntervals: retryOverrides(['Claim', 'DeleteData', 'MarkDeleted', 'RecordFailure']),
      },
    ]);
    stops.push(() => stepFunctions.stop());
    eventBridge = await startLocalEventBridge(join(options.dataDir, 'events.jsonl'), { log: !options.inMemory });
    stops.push(() => eventBridge.stop());
    key = await loadOrCreateDevKey(options.dataDir);
    // What the stack gives the functions as environment, given here before any handler loads.
    const environment = {
      TABLE_NAME: TABLE,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      BUCKET_NAME: defaultBucket,
      // As the stack sets it where `skyglass:stores` is given; absent, one implicit store.
      ...(stores.length > 0 && { STORES: JSON.stringify(stores) }),
      S3_ENDPOINT: s3.endpoint,
      SFN_ENDPOINT: stepFunctions.endpoint,
      VERIFIER_STATE_MACHINE_ARN: VERIFIER_ARN,
      SCRUBBER_STATE_MACHINE_ARN: SCRUBBER_ARN,
      SCRUB_DELAY_SECONDS: process.env.SCRUB_DELAY_SECONDS ?? LOCAL_SCRUB_DELAY_SECONDS,
      EVENTS_ENDPOINT: eventBridge.endpoint,
      EVENT_BUS_NAME: 'skyglass-local',
      // Resilience tests write fault rules here (shared/adapters/fault-injection.ts).
      SKYGLASS_FAULTS_FILE: join(options.dataDir, 'faults.json'),
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      JWKS_JSON: publicJwks(key),
      JWT_ISSUER: LOCAL_ISSUER,
      JWT_AUDIENCE: LOCAL_AUDIENCE,
      // Set: the authorizer validates tokens with this Keystone (and 401s name it); empty: JWT mode.
      KEYSTONE_URL: keystoneUrl,
      POLICY_OVERRIDES: policyOverrides,
      // web-download from 127.0.0.1 (tests, a file served beside `npm start`): the local runtime
      // allows loopback unless told otherwise; the stack never sets it (README "web-download").
      SKYGLASS_IMPORT_ALLOW_LOOPBACK: process.env.SKYGLASS_IMPORT_ALLOW_LOOPBACK ?? 'true',
      PROPERTY_PROTECTIONS: propertyProtections,
      ...quotas,
    };
    if (stores.length === 0) delete process.env.STORES;
    Object.assign(process.env, environment);
    // `npm run sweep` (and other one-off tools) reach the running emulators through this.
    writeFileSync(join(options.dataDir, 'runtime.json'), JSON.stringify({ pid: process.pid, environment }, null, 2));
    // The outbox relay, fed by the table's stream as the stack's event source mapping feeds it.
    const relay = WORKERS.find((w) => w.name === 'publishEvents');
    if (!relay) throw new Error('no publishEvents worker in the route table');
    const tableStream = await startLocalTableStream({
      client: dynamo.client,
      endpoint: dynamo.endpoint,
      region: REGION,
      credentials: CREDENTIALS,
      tableName: TABLE,
      deliver: async (event) => invoke(relay.name, await loadHandler<DynamoDBStreamEvent, DynamoDBBatchResponse>(relay.handler), event),
      consumer: relay.name,
      positionFile: options.inMemory ? undefined : join(options.dataDir, 'stream-position.json'),
      newTable,
      retryMs: Number(process.env.SKYGLASS_LOCAL_RETRY_MS) > 0 ? Number(process.env.SKYGLASS_LOCAL_RETRY_MS) : 1000,
    });
    stops.push(() => tableStream.stop());
    // The metadefs catalogue's seed, on the first start of a DATA_DIR (a later start finds the
    // seed marker and writes nothing; an operator's edits are never overwritten). It runs as the
    // function that seeds a deployment on its first list, whose grants it needs.
    await runAsFunction(METADEF_SEEDING_FUNCTION, () => seedMetadefs(metadefContext()));
  } catch (error) {
    await stopAll();
    throw error;
  }

  const dataFront = options.dataFront ?? process.env.SKYGLASS_DATA_FRONT !== 'off';
  // The browser console's scripts send image parts straight to the S3 endpoint.
  const consoleOptions: ConsoleOptions = { key, host: options.host ?? '127.0.0.1', connectOrigins: [new URL(s3.endpoint).origin] };
  const { server, url } = await listenApi(options, dataFront, consoleOptions);
  return {
    url,
    dynamodbEndpoint: dynamo.endpoint,
    tableName: TABLE,
    s3Endpoint: s3.endpoint,
    bucket: defaultBucket,
    stores,
    workflowsIdle: () => stepFunctions.idle(),
    eventsFile: eventBridge.file,
    eventsEndpoint: eventBridge.endpoint,
    stop: async () => {
      await closeServer(server);
      await stopAll();
    },
  };
}

/** The API Gateway emulation on its port: every route, the data front's when `dataFront`, and the browser console under /console/. */
async function listenApi(options: { port?: number; host?: string }, dataFront: boolean, consoleOptions: ConsoleOptions): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handle(req, res, dataFront, consoleOptions).catch((error) => {
      // A request the client broke off (or the parser refused mid-body) has no one to answer.
      if (req.destroyed && res.destroyed) return;
      console.error(error);
      if (!res.headersSent) sendResult(res, gatewayError('DEFAULT_5XX'));
      else res.end();
    });
  });
  // It serves the data front's uploads too: no 408 for an image still arriving after 300 s.
  takeLongUploads(server);
  server.on('clientError', answerParserError);
  // Node hands CONNECT to this event and closes the connection unanswered when nobody listens.
  server.on('connect', (req: IncomingMessage, socket: Duplex) =>
    answerRaw(socket, 405, `The method ${req.method ?? 'CONNECT'} is not allowed for this resource.`),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9292, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { server, url: `http://${options.host ?? '127.0.0.1'}:${port}` };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

const modules = new Map<string, Promise<Record<string, unknown>>>();
async function loadHandler<E, R>(entry: string): Promise<LambdaHandler<E, R>> {
  let mod = modules.get(entry);
  if (!mod) {
    mod = import(pathToFileURL(join(ROOT, entry)).href) as Promise<Record<string, unknown>>;
    modules.set(entry, mod);
  }
  return (await mod).handler as LambdaHandler<E, R>;
}

/** SKYGLASS_LOCAL_RETRY_MS shortens the definitions' retry intervals (tests); unset, they are as deployed. */
function retryOverrides(states: string[]): Record<string, number> | undefined {
  const ms = Number(process.env.SKYGLASS_LOCAL_RETRY_MS);
  return Number.isFinite(ms) && ms > 0 ? Object.fromEntries(states.map((s) => [s, ms])) : undefined;
}

function workerArn(name: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:skyglass-local-${name}`;
}

/** A state machine's Lambda task, run in-process; the result is wrapped as lambda:invoke wraps it. */
function invokeWorker(name: string) {
  const worker = WORKERS.find((w) => w.name === name);
  if (!worker) throw new Error(`no worker ${name} in the route table`);
  return async (input: unknown) => {
    const handler = await loadHandler<unknown, unknown>(worker.handler);
    const payload = (input as { Payload?: unknown }).Payload;
    return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: await invoke(name, handler, payload) };
  };
}

/** Replaces CDK-style `${Name}` placeholders in a definition, as the stack's definitionSubstitutions do. */
function substitute(definition: object, values: Record<string, string>): object {
  let text = JSON.stringify(definition);
  for (const [placeholder, value] of Object.entries(values)) text = text.split(placeholder).join(value);
  return JSON.parse(text) as object;
}

/** One invocation of the function `name`: the AWS calls made within it are its own (shared/adapters/aws-call-log.ts). */
function invoke<E, R>(name: string, handler: LambdaHandler<E, R>, event: E): Promise<R> {
  return runAsFunction(name, () => handler(event, lambdaContext(name)));
}

function lambdaContext(name: string): Context {
  return invocationContext(name, ACCOUNT);
}

/**
 * The largest data body the Lambda path surely takes: the event carries it base64-encoded (4/3
 * of its size) with the request's headers, within Lambda's 6 MB. Larger ones go to the front.
 */
const LARGEST_LAMBDA_DATA = Math.floor((MAX_EVENT_BYTES * 3) / 4) - 64 * 1024;

/**
 * Whether the data front takes this request: one of its routes, with a body the API tier could
 * not take (over its limit, or chunked, whose length is unknown until it ends). Smaller bodies
 * keep the Lambda path, as in the stack without the front (so the suites run those handlers too);
 * in the stack with it, CloudFront sends every request on these paths to the front.
 */
function streamsThroughFront(route: Route | undefined, req: IncomingMessage, dataFront: boolean): boolean {
  if (!dataFront || !route || !STREAMED_OPERATIONS.has(route.operationId)) return false;
  const length = req.headers['content-length'];
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : Number(length) > LARGEST_LAMBDA_DATA;
}

async function handle(req: IncomingMessage, res: ServerResponse, dataFront: boolean, consoleOptions: ConsoleOptions): Promise<void> {
  // The browser console (no API route is under /console): its files and the local sign-in.
  const pathname = requestUrl(req.url ?? '/')?.pathname;
  if (pathname && isConsolePath(pathname)) return serveConsole(req, res, pathname, consoleOptions);
  const request = routeRequest(req);
  if (!request) return sendResult(res, gatewayError('MISSING_AUTHENTICATION_TOKEN'));
  const { route, method, gateway } = request;
  const streamed = streamsThroughFront(route, req, dataFront);
  const body = streamed ? Buffer.alloc(0) : await readBody(req, MAX_GATEWAY_BODY_BYTES + 1);
  if (body.length > MAX_GATEWAY_BODY_BYTES) return sendResult(res, gatewayError('REQUEST_TOO_LARGE', gateway));
  const event = proxyEvent(req, request, body, LOCAL_ORIGIN);
  // Lambda refuses events over 6 MB; API Gateway never delivers them.
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) return sendResult(res, gatewayError('REQUEST_TOO_LARGE', gateway));

  const authorizer = await loadHandler<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>(AUTHORIZER_HANDLER);
  const refusal = await authorizeEvent(event, request, (authorizerEvent) => invoke('authorizer', authorizer, authorizerEvent));
  if (refusal) return sendResult(res, refusal);

  if (streamed && route) {
    // The streamed path runs as the data front does in the stack: under the front's identity,
    // so test/iam checks its calls against the front's grants (DATA_FRONT, shared/routes.ts).
    const result = await runAsFunction(DATA_FRONT.name, () => streamedDataRequest(route.operationId, event, req, lambdaContext(DATA_FRONT.name)));
    // An answer before the whole body was read (a refusal): the rest of it is not read, so the connection closes.
    if (!req.complete) res.shouldKeepAlive = false;
    return sendResult(res, result);
  }
  const entry = route?.handler ?? FALLBACK_HANDLER;
  const handler = await loadHandler<APIGatewayProxyEvent, APIGatewayProxyResult>(entry);
  const result = await invoke(route?.operationId ?? 'fallback', handler, event);
  sendResult(res, result, method === 'HEAD');
}


