import middy from '@middy/core';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { GlanceError } from '../domain/errors.js';
import { corsHeaders } from './cors.js';
import { fromApiGatewayEvent, type HttpRequest } from './request.js';
import { errorResponse, type HttpResponse } from './response.js';

export type RequestHandler = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * Wraps a use-case handler for API Gateway: parse the event, run, and turn failures into
 * Glance's JSON errors. Client errors (GlanceError) are shown; anything else is logged and
 * becomes a generic 500 so no stack trace ever reaches a client (middy's http-error rule).
 */
export function httpHandler(handle: RequestHandler) {
  return middy<APIGatewayProxyEvent, HttpResponse, Error, Context>()
    // middy runs onError hooks in reverse order: glanceErrors shapes the error first, then requestId stamps it.
    .use(requestId())
    .use(consoleCors())
    .use(glanceErrors())
    .handler(async (event, context) => handle(fromApiGatewayEvent(event, requestIdOf(context))));
}

function glanceErrors(): middy.MiddlewareObj<APIGatewayProxyEvent, HttpResponse, Error, Context> {
  return {
    onError: async (request) => {
      const error = request.error;
      const accept = Object.entries(request.event?.headers ?? {}).find(([k]) => k.toLowerCase() === 'accept')?.[1];
      if (error instanceof GlanceError) {
        request.response = errorResponse(error, accept);
        return;
      }
      console.error(JSON.stringify({ level: 'error', message: 'unhandled error', error: String(error), stack: error?.stack }));
      request.response = errorResponse(
        new GlanceError(500, 'The server has either erred or is incapable of performing the requested operation.'),
        accept,
      );
    },
  };
}

/** Ids made for invocations without a Lambda request id, so the response and the handler see the same one. */
const madeIds = new WeakMap<object, string>();

/** The request's `req-<uuid>`: the Lambda invocation's id, as the handler records it (tasks) and the response shows it. */
function requestIdOf(context: Context | undefined): string {
  if (context?.awsRequestId) return `req-${context.awsRequestId}`;
  if (!context) return `req-${crypto.randomUUID()}`;
  let id = madeIds.get(context);
  if (!id) madeIds.set(context, (id = `req-${crypto.randomUUID()}`));
  return id;
}

/** The browser console's origin may read every answer, errors included (shared/http/cors.ts). */
function consoleCors(): middy.MiddlewareObj<APIGatewayProxyEvent, HttpResponse, Error, Context> {
  const stamp = (request: middy.Request<APIGatewayProxyEvent, HttpResponse, Error, Context>) => {
    if (!request.response) return;
    const headers = corsHeaders(request.event?.headers);
    if (Object.keys(headers).length > 0) request.response.headers = { ...request.response.headers, ...headers };
  };
  return { after: async (r) => stamp(r), onError: async (r) => stamp(r) };
}

/** Glance puts `X-Openstack-Request-Id: req-<uuid>` on every response. */
function requestId(): middy.MiddlewareObj<APIGatewayProxyEvent, HttpResponse, Error, Context> {
  const stamp = (request: middy.Request<APIGatewayProxyEvent, HttpResponse, Error, Context>) => {
    if (!request.response) return;
    request.response.headers = { ...request.response.headers, 'X-Openstack-Request-Id': requestIdOf(request.context) };
  };
  return { after: async (r) => stamp(r), onError: async (r) => stamp(r) };
}
