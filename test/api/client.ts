import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { mintToken } from '../../infra/local/dev-key.js';

export const apiUrl = () => inject('apiUrl');

export interface CallOptions {
  method?: string;
  token?: string | null;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface CallResult<T = any> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

/** One HTTP call to the API under test, as a client would make it. */
export function call<T = any>(path: string, options: CallOptions = {}): Promise<CallResult<T>> {
  return callAt<T>(apiUrl(), path, options);
}

/** The same call to the API at `baseUrl` (a runtime the test started itself). */
export async function callAt<T = any>(baseUrl: string, path: string, options: CallOptions = {}): Promise<CallResult<T>> {
  // Like openstacksdk, ask for JSON: errors then come in Glance's own JSON shape.
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (options.token) headers['X-Auth-Token'] = options.token;
  let body: string | Buffer | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed as T };
}

const tokens = new Map<string, Promise<string>>();
/** A real token signed with the local dev key. */
export function tokenFor(project: string, roles: string[] = ['member', 'reader'], user?: string): Promise<string> {
  const key = `${project}|${roles.join(',')}|${user ?? ''}`;
  let token = tokens.get(key);
  if (!token) {
    token = mintToken(inject('dataDir'), { project, roles, user });
    tokens.set(key, token);
  }
  return token;
}

/** A project name no other test uses, so tests can run in parallel on one table. */
export function uniqueProject(prefix = 'p'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export const PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';

export async function patch(token: string, id: string, ops: unknown) {
  return call(`/v2/images/${id}`, { method: 'PATCH', token, body: JSON.stringify(ops), headers: { 'Content-Type': PATCH_TYPE } });
}

export async function createImage(token: string, body: Record<string, unknown> = {}) {
  const res = await call('/v2/images', { method: 'POST', token, json: body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return res.body as Record<string, any>;
}
