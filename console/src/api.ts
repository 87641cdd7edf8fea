import type { Image } from '../../shared/domain/image.js';
import type { ImageMember, MemberStatus } from '../../shared/domain/member.js';
import type { PartUrl, UploadSessionView as UploadSession } from '../../shared/domain/upload-plan.js';
import { OPERATIONS } from './operations.js';

/**
 * An image as `GET /v2/images/{id}` shows it: the stored image's base attributes (the domain's own
 * type, so the two cannot drift), its links, then every custom property (strings).
 */
export type ImageView = Omit<Image, 'properties' | 'location' | 'upload' | 'failure' | 'scrub' | 'version'> & {
  self: string;
  file: string;
  schema: string;
  [property: string]: unknown;
};

export interface ImageList {
  images: ImageView[];
  first: string;
  /** The next page's path, with its marker; absent on the last page. */
  next?: string;
}

/** The uploads extension's session and its parts, as the service answers them (the domain's types). */
export type { PartUrl as UploadPart, UploadSession };

/** What the create form sends: Glance's create body (custom properties are strings). */
export type NewImage = Partial<Pick<ImageView, 'name' | 'disk_format' | 'container_format' | 'visibility' | 'protected' | 'min_disk' | 'min_ram'>> & Record<string, unknown>;

/** An image's membership, as Glance's members API shows it (the domain's type). */
export type { ImageMember, MemberStatus };

export type PatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** The JSON pointer of a top-level attribute (RFC 6901: ~ and / escaped). */
export function pointer(key: string): string {
  return `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** A refusal from the API, with Glance's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function pathOf(operation: keyof typeof OPERATIONS, parameters: Record<string, string> = {}): string {
  return OPERATIONS[operation].path.replace(/\{([a-z_]+)\}/g, (_, name: string) => encodeURIComponent(parameters[name] ?? ''));
}

/** The API, called with the signed-in token (never a cookie: other origins cannot send it). */
export class ImagesApi {
  /** The API's URL without its trailing slash: '' on the page's own origin (the local runtime). */
  private readonly base: string;

  constructor(
    private readonly token: string,
    /** Called on a 401: the token expired or the runtime's key changed. */
    private readonly onUnauthorized: () => void,
    /** The API's URL (in AWS another origin than the console's, with the stage in its path). */
    apiUrl = '',
  ) {
    this.base = apiUrl.replace(/\/+$/, '');
  }

  listImages(query: URLSearchParams): Promise<ImageList> {
    return this.request<ImageList>('listImages', `${pathOf('listImages')}?${query}`);
  }

  /** A `next` or `first` link the API gave: only paths of the images list are followed. */
  listPage(link: string): Promise<ImageList> {
    // The API's links are paths from its root (`/v2/images?marker=…`), without the stage.
    const url = new URL(link, 'https://api.invalid');
    if (url.origin !== 'https://api.invalid' || url.pathname !== pathOf('listImages')) throw new ApiError(0, `Not a link to the images list: ${link}`);
    return this.request<ImageList>('listImages', `${url.pathname}${url.search}`);
  }

  showImage(id: string): Promise<ImageView> {
    return this.request<ImageView>('showImage', pathOf('showImage', { image_id: id }));
  }

  createImage(image: NewImage): Promise<ImageView> {
    return this.request<ImageView>('createImage', pathOf('createImage'), image);
  }

  deleteImage(id: string): Promise<void> {
    return this.request<void>('deleteImage', pathOf('deleteImage', { image_id: id }));
  }

  /** A JSON patch (Glance's v2.1 media type); answers the image as it now is. */
  updateImage(id: string, operations: PatchOperation[]): Promise<ImageView> {
    return this.request<ImageView>('updateImage', pathOf('updateImage', { image_id: id }), operations, 'application/openstack-images-v2.1-json-patch');
  }

  addTag(id: string, tag: string): Promise<void> {
    return this.request<void>('addImageTag', pathOf('addImageTag', { image_id: id, tag_value: tag }));
  }

  removeTag(id: string, tag: string): Promise<void> {
    return this.request<void>('deleteImageTag', pathOf('deleteImageTag', { image_id: id, tag_value: tag }));
  }

  listMembers(id: string): Promise<{ members: ImageMember[] }> {
    return this.request('listImageMembers', pathOf('listImageMembers', { image_id: id }));
  }

  addMember(id: string, member: string): Promise<ImageMember> {
    return this.request('createImageMember', pathOf('createImageMember', { image_id: id }), { member });
  }

  showMember(id: string, member: string): Promise<ImageMember> {
    return this.request('showImageMember', pathOf('showImageMember', { image_id: id, member_id: member }));
  }

  /** The member's own answer to a share: accepted, rejected, or back to pending. */
  setMemberStatus(id: string, member: string, status: MemberStatus): Promise<ImageMember> {
    return this.request('updateImageMember', pathOf('updateImageMember', { image_id: id, member_id: member }), { status });
  }

  removeMember(id: string, member: string): Promise<void> {
    return this.request('deleteImageMember', pathOf('deleteImageMember', { image_id: id, member_id: member }));
  }

  /** Deactivate or reactivate (Glance's image actions; idempotent). */
  imageAction(id: string, action: 'deactivate' | 'reactivate'): Promise<void> {
    const operation = action === 'deactivate' ? 'deactivateImage' : 'reactivateImage';
    return this.request<void>(operation, pathOf(operation, { image_id: id }));
  }

  /** Admin: bring a pending_delete image back to what it was (active or deactivated) before the scrubber takes it. */
  restoreImage(id: string): Promise<void> {
    return this.request<void>('restoreImage', pathOf('restoreImage', { image_id: id }));
  }

  createUpload(id: string, size: number, partSize?: number): Promise<UploadSession> {
    return this.request<UploadSession>('createImageUpload', pathOf('createImageUpload', { image_id: id }), partSize === undefined ? { size } : { size, part_size: partSize });
  }

  getUpload(id: string, uploadId: string): Promise<UploadSession> {
    return this.request<UploadSession>('getImageUpload', pathOf('getImageUpload', { image_id: id, upload_id: uploadId }));
  }

  completeUpload(id: string, uploadId: string, parts: Array<{ part_number: number; etag: string }>): Promise<void> {
    return this.request<void>('completeImageUpload', pathOf('completeImageUpload', { image_id: id, upload_id: uploadId }), { parts });
  }

  abortUpload(id: string, uploadId: string): Promise<void> {
    return this.request<void>('abortImageUpload', pathOf('abortImageUpload', { image_id: id, upload_id: uploadId }));
  }

  private async request<T>(operation: keyof typeof OPERATIONS, path: string, json?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method: OPERATIONS[operation].method,
      // Glance's flat JSON errors ({"message", "code", "title"}) come to clients that ask for JSON.
      headers: { Accept: 'application/json', 'X-Auth-Token': this.token, ...(json === undefined ? {} : { 'Content-Type': contentType }) },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await res.text();
    const body = parse(text);
    if (res.status === 401) this.onUnauthorized();
    if (!res.ok) {
      const message = typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : `${res.status} ${res.statusText}`;
      throw new ApiError(res.status, message);
    }
    return body as T;
  }
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
