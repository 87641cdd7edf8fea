import type { APIGatewayProxyResult } from 'aws-lambda';
import type { GlanceError } from '../domain/errors.js';

export type HttpResponse = APIGatewayProxyResult;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export function noContent(headers: Record<string, string> = {}): HttpResponse {
  return { statusCode: 204, headers, body: '' };
}

/** Longest error message shown; longer ones are cut. */
export const MAX_ERROR_MESSAGE_CHARS = 2048;

/**
 * Errors are always JSON, in one of two shapes chosen the way Glance (webob) chooses between
 * JSON and HTML: a client that ranks application/json above text/html in `Accept` gets
 * Glance's own JSON, `{"message", "code", "title"}`. Any other client (glanceclient and curl
 * send `*` + `/` + `*`) gets the OpenStack envelope `{"error": {"code", "title", "message"}}`, where
 * Glance would send HTML: stock glanceclient reads a JSON error only as a dict of dicts.
 */
export function errorResponse(error: GlanceError, accept?: string): HttpResponse {
  const flat = error.toBody();
  // Messages quote what the client sent; however much that was, the answer stays small
  // (Lambda refuses responses over 6 MB, and control characters grow sixfold in JSON).
  if (flat.message.length > MAX_ERROR_MESSAGE_CHARS) flat.message = `${flat.message.slice(0, MAX_ERROR_MESSAGE_CHARS)}...`;
  const body = prefersJson(accept) ? flat : errorEnvelope(error.status, flat.title, flat.message);
  return json(error.status, body, error.headers);
}

/** keystonemiddleware's error body; also what the gateway answers (it cannot negotiate). */
export function errorEnvelope(status: number, title: string, message: string) {
  return { error: { code: status, title, message } };
}

/** webob's choice between its offers text/html and application/json: JSON only if ranked strictly higher. */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const quality = (type: string) => {
    const [want, sub] = type.split('/');
    let specificity = -1;
    let q = 0;
    for (const part of accept.split(',')) {
      const [range = '', ...params] = part.trim().toLowerCase().split(';');
      const [t, s] = range.trim().split('/');
      const match = t === want && s === sub ? 2 : t === want && s === '*' ? 1 : t === '*' && s === '*' ? 0 : -1;
      if (match < specificity) continue;
      const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      specificity = match;
      q = qParam ? Number(qParam.slice(2)) || 0 : 1;
    }
    return specificity < 0 ? 0 : q;
  };
  return quality('application/json') > quality('text/html');
}
