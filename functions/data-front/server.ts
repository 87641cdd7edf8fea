import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { runAsFunction } from '../../shared/adapters/aws-call-log.js';
import { STREAMED_OPERATIONS, streamedDataRequest } from '../../shared/http/data-front.js';
import { MAX_GATEWAY_BODY_BYTES } from '../../shared/http/gateway-responses.js';
import { takeLongUploads } from '../../shared/http/upload-server.js';
import {
  answerParserError,
  authorizeEvent,
  gatewayError,
  invocationContext,
  proxyEvent,
  readBody,
  routeRequest,
  sendResult,
  type EventOrigin,
} from '../../shared/http/proxy-event.js';
import { DATA_FRONT } from '../../shared/routes.js';
import { handler as authorizer } from '../auth/authorizer.js';
import { handler as downloadImage } from '../data/download-image.js';
import { handler as fallback } from '../meta/fallback.js';

/**
 * The data front: an HTTP server for the routes whose bodies API Gateway cannot carry (PUT /file
 * and PUT /stage, any size, chunked or with a Content-Length), streamed into the store by
 * shared/http/data-front.ts. In the stack it runs on ECS Fargate behind CloudFront and a private
 * ALB (infra/constructs/data-front.ts); CloudFront sends it every request on those paths, so it
 * also answers GET /file (the download handler itself) and other methods there (the fallback's
 * 405). Requests are authorized by the API's authorizer code and policy and reach the handlers
 * as the same APIGatewayProxyEvent the API builds (shared/http/proxy-event.ts).
 */
export const HEALTH_PATH = DATA_FRONT.healthPath;

const DEFAULT_KEEP_ALIVE_SECONDS = 65;

/** How long a stopping front waits for uploads in flight: within ECS's stop timeout (120 s at most). */
const DEFAULT_STOP_GRACE_SECONDS = 110;

export interface DataFrontOptions {
  port?: number;
  host?: string;
  /**
   * How long an idle keep-alive connection stays open: longer than the load balancer's idle
   * timeout (the stack passes its ALB's plus a margin as KEEP_ALIVE_SECONDS).
   * @default 65 (the ALB default of 60 s plus 5)
   */
  keepAliveSeconds?: number;
}

export interface DataFront {
  url: string;
  server: Server;
  /** Stops accepting connections, lets requests in flight finish within `graceMs`, then closes the rest. */
  stop(graceMs?: number): Promise<void>;
}

type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
const HANDLERS: Record<string, ProxyHandler> = { downloadImage: downloadImage as ProxyHandler };
const ORIGIN: EventOrigin = {
  stage: process.env.SKYGLASS_STAGE ?? 'front',
  apiId: 'data-front',
  accountId: process.env.AWS_ACCOUNT_ID ?? '000000000000',
  // Behind the ALB, which sets X-Forwarded-For/-Proto/-Port as API Gateway does.
  forwarded: 'from-proxy',
};

export async function startDataFront(options: DataFrontOptions = {}): Promise<DataFront> {
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    // One identity for every call the front makes: its task role (DATA_FRONT, shared/routes.ts).
    runAsFunction(DATA_FRONT.name, () => handle(req, res)).catch((error) => {
      if (req.destroyed && res.destroyed) return;
      console.error(error);
      if (!res.headersSent) sendResult(res, gatewayError('DEFAULT_5XX'));
      else res.end();
    });
  });
  // A 2 GiB body takes minutes: no whole-request deadline (takeLongUploads); the load balancer's
  // idle timeout bounds a stalled client instead. Keep-alive outlives the ALB's idle timeout, so
  // the ALB never reuses a connection the front is closing (a 502).
  const keepAliveMs = (options.keepAliveSeconds ?? DEFAULT_KEEP_ALIVE_SECONDS) * 1000;
  takeLongUploads(server);
  server.keepAliveTimeout = keepAliveMs;
  server.headersTimeout = keepAliveMs + 1000;
  server.on('clientError', answerParserError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host ?? '0.0.0.0';
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    server,
    stop: (graceMs = DEFAULT_STOP_GRACE_SECONDS * 1000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Idle keep-alive connections end now; those with a request in flight once it is answered.
        server.closeIdleConnections();
        for (const res of inFlight) res.shouldKeepAlive = false;
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
    return sendResult(res, { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{"status":"ok"}' }, req.method === 'HEAD');
  }
  const request = routeRequest(req);
  if (!request) return sendResult(res, gatewayError('MISSING_AUTHENTICATION_TOKEN'));
  const { route, method, gateway } = request;
  // A route of the API's that is not the front's reached it by a routing mistake: not found here.
  if (route && !(DATA_FRONT.operations as readonly string[]).includes(route.operationId)) {
    return sendResult(res, gatewayError('MISSING_AUTHENTICATION_TOKEN', gateway));
  }
  const streamed = route !== undefined && STREAMED_OPERATIONS.has(route.operationId);
  const body = streamed ? Buffer.alloc(0) : await readBody(req, MAX_GATEWAY_BODY_BYTES + 1);
  if (body.length > MAX_GATEWAY_BODY_BYTES) return sendResult(res, gatewayError('REQUEST_TOO_LARGE', gateway));
  const event = proxyEvent(req, request, body, ORIGIN);
  const refusal = await authorizeEvent(event, request, (authorizerEvent) => authorizer(authorizerEvent));
  if (refusal) {
    if (streamed) res.shouldKeepAlive = false;
    return sendResult(res, refusal);
  }
  const context = invocationContext(DATA_FRONT.name, ORIGIN.accountId);
  if (streamed && route) {
    const result = await streamedDataRequest(route.operationId, event, req, context);
    // An answer before the whole body was read (a refusal): the rest of it is not read, so the connection closes.
    if (!req.complete) res.shouldKeepAlive = false;
    return sendResult(res, result);
  }
  const handler = (route && HANDLERS[route.operationId]) ?? (fallback as ProxyHandler);
  sendResult(res, await handler(event, context), method === 'HEAD');
}


/**
 * Run as a program (the container's command): PORT (default 8080), HOST, KEEP_ALIVE_SECONDS;
 * SIGTERM drains for up to STOP_GRACE_SECONDS and exits.
 */
async function main(): Promise<void> {
  const keepAlive = Number(process.env.KEEP_ALIVE_SECONDS);
  const front = await startDataFront({
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? '0.0.0.0',
    ...(keepAlive > 0 && { keepAliveSeconds: keepAlive }),
  });
  console.log(JSON.stringify({ message: 'data front listening', url: front.url }));
  const graceSeconds = Number(process.env.STOP_GRACE_SECONDS ?? DEFAULT_STOP_GRACE_SECONDS);
  process.once('SIGTERM', () => {
    console.log(JSON.stringify({ message: 'SIGTERM: draining', graceSeconds }));
    front.stop(graceSeconds * 1000).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(entry).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
