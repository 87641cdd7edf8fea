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

export function errorResponse(error: GlanceError): HttpResponse {
  return json(error.status, error.toBody(), error.headers);
}
