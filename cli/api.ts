import { ApiError, CliError, EXIT } from './errors.js';
import type { UploadSessionView as UploadSession } from '../shared/domain/upload-plan.js';

/** An image as the Images API v2 returns it (properties are open-ended). */
export type Image = Record<string, unknown> & { id: string; status: string; size?: number | null };
export interface Member {
  image_id: string;
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}
export type { PartUrl, UploadSessionView as UploadSession } from '../shared/domain/upload-plan.js';

export const PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  410: 'Gone', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** The few calls the CLI makes, over plain fetch; every non-2xx becomes an ApiError carrying Glance's message. */
export class ImageApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(method: string, path: string, options: { json?: unknown; body?: string; contentType?: string; expect?: number[]; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const headers: Record<string, string> = { Accept: 'application/json', 'X-Auth-Token': this.token, ...options.headers };
    let body = options.body;
    if (options.json !== undefined) body = JSON.stringify(options.json);
    if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    const text = await res.text();
    if (res.status >= 400 || (options.expect && !options.expect.includes(res.status))) throw apiError(res.status, text);
    return { status: res.status, body: (text ? safeJson(text) : undefined) as T, headers: res.headers };
  }

  getImage = (id: string) => this.request<Image>('GET', `/v2/images/${enc(id)}`).then((r) => r.body);
  createImage = (fields: Record<string, unknown>) => this.request<Image>('POST', '/v2/images', { json: fields }).then((r) => r.body);
  updateImage = (id: string, ops: unknown[]) => this.request<Image>('PATCH', `/v2/images/${enc(id)}`, { body: JSON.stringify(ops), contentType: PATCH_TYPE }).then((r) => r.body);
  deleteImage = (id: string) => this.request('DELETE', `/v2/images/${enc(id)}`).then(() => undefined);
  addTag = (id: string, tag: string) => this.request('PUT', `/v2/images/${enc(id)}/tags/${enc(tag)}`).then(() => undefined);
  deleteTag = (id: string, tag: string) => this.request('DELETE', `/v2/images/${enc(id)}/tags/${enc(tag)}`).then(() => undefined);
  action = (id: string, action: 'deactivate' | 'reactivate') => this.request('POST', `/v2/images/${enc(id)}/actions/${action}`).then(() => undefined);
  listPage = (query: string) => this.request<{ images: Image[]; next?: string }>('GET', `/v2/images${query}`).then((r) => r.body);
  /** Follows a `next` link as the API gives it (a path with its query). */
  nextPage = (next: string) => this.request<{ images: Image[]; next?: string }>('GET', next).then((r) => r.body);
  createMember = (id: string, member: string) => this.request<Member>('POST', `/v2/images/${enc(id)}/members`, { json: { member } }).then((r) => r.body);
  listMembers = (id: string) => this.request<{ members: Member[] }>('GET', `/v2/images/${enc(id)}/members`).then((r) => r.body.members);
  updateMember = (id: string, member: string, status: string) => this.request<Member>('PUT', `/v2/images/${enc(id)}/members/${enc(member)}`, { json: { status } }).then((r) => r.body);
  deleteMember = (id: string, member: string) => this.request('DELETE', `/v2/images/${enc(id)}/members/${enc(member)}`).then(() => undefined);
  importInfo = () => this.request<Record<string, unknown>>('GET', '/v2/info/import').then((r) => r.body);

  /** With `stage`, the parts are staged for an import (the image goes to uploading) instead of verified. */
  createUpload = (id: string, size: number, options: { partSize?: number; stage?: boolean } = {}) =>
    this.request<UploadSession>('POST', `/v2/images/${enc(id)}/uploads`, { json: { size, ...(options.partSize ? { part_size: options.partSize } : {}), ...(options.stage ? { stage: true } : {}) } }).then((r) => r.body);
  /** POST /import (202): `glance-direct` imports staged data; other methods as the service lists them. */
  /** POST /import: `targets` are the body's store fields (stores, all_stores, all_stores_must_succeed), `store` the X-Image-Meta-Store header. */
  importImage = (id: string, method: Record<string, unknown>, targets: Record<string, unknown> = {}, store?: string) =>
    this.request('POST', `/v2/images/${enc(id)}/import`, { json: { method, ...targets }, expect: [202], ...(store ? { headers: { 'X-Image-Meta-Store': store } } : {}) }).then(() => undefined);
  storesInfo = (detail: boolean) => this.request<Record<string, unknown>>('GET', `/v2/info/stores${detail ? '/detail' : ''}`).then((r) => r.body);
  getUpload = (id: string, uploadId: string) => this.request<UploadSession>('GET', `/v2/images/${enc(id)}/uploads/${enc(uploadId)}`).then((r) => r.body);
  completeUpload = (id: string, uploadId: string, parts: Array<{ part_number: number; etag: string }>) =>
    this.request('POST', `/v2/images/${enc(id)}/uploads/${enc(uploadId)}/complete`, { json: { parts } }).then(() => undefined);
  abortUpload = (id: string, uploadId: string) => this.request('DELETE', `/v2/images/${enc(id)}/uploads/${enc(uploadId)}`).then(() => undefined);
  /** The presigned URL GET /file redirects to, or null when the image has no data (204). */
  async downloadUrl(id: string): Promise<string | null> {
    const res = await this.request('GET', `/v2/images/${enc(id)}/file`, { expect: [200, 204, 302, 303, 307] });
    if (res.status === 204) return null;
    const location = res.headers.get('location');
    if (!location) throw new CliError(`GET /v2/images/${id}/file answered ${res.status} without a Location`, EXIT.api);
    return new URL(location, this.baseUrl).toString();
  }
}

const enc = encodeURIComponent;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function apiError(status: number, text: string): ApiError {
  const body = safeJson(text) as { code?: string; message?: string; title?: string; error?: { message?: string } } | string;
  const line = typeof body === 'object' && body ? (body.message ?? body.error?.message ?? body.title ?? '') : String(body ?? '').trim();
  const code = typeof body === 'object' && body?.code ? body.code : `${status} ${REASONS[status] ?? ''}`.trim();
  let message = `HTTP ${code}${line ? `: ${line}` : ''}`;
  if (status === 401) message += '\n(the token was refused: expired or not for this service? Set OS_AUTH_TOKEN or --os-auth-token; locally: skyglass token --project <id>)';
  return new ApiError(status, message);
}

export function unreachable(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(`Unable to establish connection to ${url}: ${why}`, EXIT.unreachable);
}
