import type { ImageStatus } from './status.js';

/** Glance's disk and container formats (glance-api.conf defaults). */
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'community', 'shared', 'private'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** Attributes every image has; anything else is a free-form (string) custom property. */
export const BASE_ATTRIBUTES = [
  'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'owner', 'checksum', 'os_hash_algo',
  'os_hash_value', 'size', 'virtual_size', 'min_disk', 'min_ram', 'disk_format', 'container_format', 'tags',
  'created_at', 'updated_at', 'self', 'file', 'schema',
] as const;

/** Attributes only the server sets: a create or patch naming them gets 403 "Attribute 'x' is read-only." */
export const READ_ONLY_ATTRIBUTES = [
  'status', 'checksum', 'size', 'virtual_size', 'created_at', 'updated_at', 'self', 'file', 'schema',
  'direct_url', 'stores', 'os_hash_algo', 'os_hash_value',
] as const;

/** Attributes Glance reserves: 403 "Attribute 'x' is reserved." */
export const RESERVED_ATTRIBUTES = ['locations', 'location', 'deleted_at', 'deleted'] as const;
/** Prefixes of reserved keys: Glance's own, and Skyglass's (server-set keys such as FAILURE_KEY). */
export const RESERVED_PREFIXES = ['os_glance', 'os_skyglass'] as const;

/** Where a client sees why the last upload or import of an image was refused. */
export const FAILURE_KEY = 'os_skyglass_failure';

/** Glance's default per-image quotas (image_property_quota, image_tag_quota). */
export const MAX_PROPERTIES = 128;
export const MAX_TAGS = 128;
/** Longest custom property value: Glance stores values in a TEXT column (64 KiB). */
export const MAX_PROPERTY_VALUE = 65_535;
/** Bound on the stored item (DynamoDB's item limit is 400 KB) so an image is never half-written. */
export const MAX_METADATA_BYTES = 350_000;

/** The stored image: base attributes, custom properties kept apart, and an optimistic version. */
export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  owner: string | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  size: number | null;
  virtual_size: number | null;
  min_disk: number;
  min_ram: number;
  disk_format: string | null;
  container_format: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  properties: Record<string, string>;
  /** Object key of the image's bytes (saved, staged or being verified); never shown (Glance hides locations). */
  location: string | null;
  /**
   * The stores holding (or receiving) the bytes at `location` and of the open upload: the same
   * key in each store's bucket (shared/domain/stores.ts). Absent or empty: the default store.
   * Shown as Glance's comma-separated `stores` once the image has data.
   */
  stores?: string[];
  /** While importing with multi-store: the stores the import lands in (shared/domain/stores.ts); never shown. */
  import_targets?: ImportTargets | null;
  /** While a web-download import fetches: the URI it fetches into `location` (the fetcher's input); never shown. */
  import_source?: string | null;
  /** While a web-download import fetches: when it started, and the multipart upload a ranged fetch resumes (ImportFetch); never shown. */
  import_fetch?: ImportFetch | null;
  /** The open upload session, at most one per image. */
  upload: UploadSession | null;
  /** Why the last upload or import was refused; shown as FAILURE_KEY. */
  failure: string | null;
  /** While pending_delete: when and how its bytes go (shared/domain/deletion.ts); never shown. */
  scrub?: PendingScrub | null;
  /** While importing: the `api_image_import` task (shared/domain/task.ts) the write that settles the import finishes; never shown. */
  task_id?: string | null;
  /** Incremented by every write; conditional writes compare it. */
  version: number;
}

/** Where a glance-direct import lands its bytes: Glance's `stores` and `all_stores_must_succeed`. */
export interface ImportTargets {
  stores: string[];
  all_stores_must_succeed: boolean;
}

/**
 * A web-download import's fetch, kept on the image so that it outlives any one fetcher run and
 * any one execution (a crash, the sweeper's re-drive): `started_at` is what the whole-fetch
 * limit counts from; `upload` is written once a source that takes ranges has its multipart
 * upload opened, so the next run lists the parts already there (part n is planRanges' range n)
 * and fetches only the rest, each with If-Range = `validator`.
 */
export interface ImportFetch {
  started_at: string;
  upload?: FetchUpload;
}

export interface FetchUpload {
  /** The multipart upload's id at the object store, on the image's `location`. */
  upload_id: string;
  /** The source's Content-Length when the fetch began: the ranges are planned from it. */
  size: number;
  /** The source's strong ETag or Last-Modified then: a source that no longer matches it answers a range with 200 and fails the import. */
  validator: string;
  /** Fetcher runs so far, each ending with one write of this record (MAX_FETCH_RUNS bounds them). */
  runs: number;
}

/** A pending_delete image's scrub: written by DELETE, claimed by the scrubber before it removes any byte. */
export interface PendingScrub {
  /** The version DELETE wrote: the scrubber executions started for this delete carry it. */
  version: number;
  /** When the restore window ends and the scrubber removes the bytes. */
  due_at: string;
  /** What a restore returns the image to; null when its bytes were never verified (nothing to restore). */
  restore_to: 'active' | 'deactivated' | null;
  /** When the scrubber claimed the image, before removing anything: from then on no restore. */
  claimed_at: string | null;
}

/** A presigned multipart upload in progress (POST /v2/images/{id}/uploads). */
export interface UploadSession {
  upload_id: string;
  /** The multipart upload's id at the object store. */
  store_upload_id: string;
  key: string;
  size: number;
  part_size: number;
  part_count: number;
  /** Staged (Glance's `stage` + import) rather than saved straight to active. */
  stage: boolean;
  created_at: string;
  expires_at: string;
  /** `completing`: the parts are assembled and verification has been started. */
  state: 'open' | 'completing';
  /** Hashes the client declared, checked by the verifier. */
  checksum: string | null;
  os_hash_value: string | null;
}

/** What a client sees: base attributes, links, and custom properties flattened in. */
export type ImageView = Record<string, unknown>;

export function imageLinks(id: string) {
  return { self: `/v2/images/${id}`, file: `/v2/images/${id}/file`, schema: '/v2/schemas/image' };
}

export function toView(image: Image): ImageView {
  const { properties, version: _version, location: _location, upload: _upload, scrub: _scrub, failure, stores, import_targets: _targets, import_source: _source, import_fetch: _fetch, task_id: _task, ...base } = image;
  // Glance shows `stores` once data exists (never for staged data, which is in its staging store).
  const hasData = image.status === 'active' || image.status === 'deactivated';
  return {
    ...properties,
    ...base,
    tags: [...image.tags],
    ...imageLinks(image.id),
    ...(failure ? { [FAILURE_KEY]: failure } : {}),
    // Sorted, as Tempest's import waiter compares it with the sorted ids (Glance lists them in the order the copies were made).
    ...(hasData && stores?.length ? { stores: [...stores].sort().join(',') } : {}),
  };
}

/** A new image's data fields: no bytes, no upload, no failure. */
export const NO_DATA = { location: null, upload: null, failure: null } as const;

/** Glance timestamps: UTC, whole seconds, `Z`. */
export function glanceTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Glance's id pattern (its image schema's): a UUID with dashes, hex digits in either case. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * The one spelling of an id: a UUID in lower case. Glance's MySQL compares ids without regard
 * to case, so `A1B2…` and `a1b2…` name the same image there (a create with the other case is a
 * 409); ids are stored and looked up in lower case for the same effect. Anything that is not a
 * UUID is returned as sent: no image has it, and the 404 quotes what the client sent.
 */
export function canonicalId(value: string): string {
  return isUuid(value) ? value.toLowerCase() : value;
}

export function isBaseAttribute(key: string): boolean {
  return (BASE_ATTRIBUTES as readonly string[]).includes(key);
}

/**
 * The image back in `queued` without data, as after a refused, expired or abandoned upload:
 * no size or hashes, no location or session, and the reason kept in `failure`.
 */
export function queuedWithoutData(image: Image, reason: string): Image {
  // No data and nothing being fetched (a web-download's source goes with its import).
  const { import_source: _source, import_fetch: _fetch, ...rest } = image;
  return {
    ...rest,
    status: 'queued',
    size: null,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    location: null,
    stores: [],
    upload: null,
    failure: reason,
  };
}

/**
 * Whether the image waits for its bytes to be verified: importing staged data, or saving with
 * its bytes in place (a completed upload, or a PUT /file whose request did not finish). The
 * verifier acts on exactly these, and the re-drive sweep restarts their lost verifications.
 */
export function awaitsVerification(image: Image): boolean {
  if (!image.location) return false;
  return image.status === 'importing' || (image.status === 'saving' && (!image.upload || image.upload.state === 'completing'));
}
