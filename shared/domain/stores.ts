/**
 * Glance's stores (multi-store `enabled_backends`), each an S3 bucket, possibly in another region.
 *
 * Where an image's bytes are: an image has one object key (`location`, the same key in every
 * store) and the list of stores holding that key's bytes (`stores`, Glance's comma-separated
 * `stores` property once the image has data). A deployment without configured stores has one
 * implicit store and records no store names, exactly as Skyglass behaved before stores existed;
 * an image whose list is empty (written then) is in the default store.
 */
import { badRequest, conflict, GlanceError } from './errors.js';
import type { Image, ImportTargets } from './image.js';

export interface StoreDefinition {
  /** Glance's store identifier: what clients name in `stores`, X-Image-Meta-Store and /v2/stores/{id}. */
  id: string;
  bucket: string;
  region: string;
  description: string;
  /** Exactly one store is the default: where data lands when a request names none. */
  default: boolean;
}

/**
 * Store ids Glance accepts as `enabled_backends` keys, narrowed to what travels safely in a URL
 * path segment and in the comma-separated `stores` property; `os_glance_` names Glance's own
 * reserved stores (staging, tasks).
 */
export const STORE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const RESERVED_STORE_PREFIX = 'os_glance_';
/** S3's bucket naming rules (general purpose buckets). */
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A store as configured: its bucket null where the stack creates it (`skyglass:stores` without `bucket`). */
export type StoreSetting = Omit<StoreDefinition, 'bucket'> & { bucket: string | null };

/**
 * Validates a store list (JSON from `skyglass:stores`, SKYGLASS_STORES or STORES): ids as Glance
 * allows them, each once, each bucket once, exactly one default (a lone store is the default).
 * `fallbackRegion` is the region of a store that names none.
 */
export function parseStoreSettings(raw: unknown, source: string, fallbackRegion: string): StoreSetting[] {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  if (!Array.isArray(raw) || raw.length === 0) fail('must be a non-empty JSON list of stores, e.g. [{"id": "us", "default": true}]');
  const stores = (raw as unknown[]).map((entry, i): StoreSetting => {
    if (!isObject(entry)) return fail(`store ${i + 1} must be an object`);
    const known = new Set(['id', 'bucket', 'region', 'description', 'default']);
    const extra = Object.keys(entry).filter((k) => !known.has(k));
    if (extra.length > 0) fail(`store ${i + 1} has unknown field(s) ${extra.join(', ')}`);
    const { id, bucket, region, description } = entry;
    if (typeof id !== 'string' || !STORE_ID_PATTERN.test(id)) fail(`store ${i + 1}: "id" must be letters, digits, '_', '.' or '-' (at most 255), starting with a letter or digit`);
    const storeId = id as string;
    if (storeId.startsWith(RESERVED_STORE_PREFIX)) fail(`store "${storeId}": ids starting ${RESERVED_STORE_PREFIX} are Glance's reserved stores`);
    if (region !== undefined && (typeof region !== 'string' || !REGION_PATTERN.test(region))) fail(`store "${storeId}": "region" must be an AWS region such as eu-west-1`);
    if (bucket !== undefined && (typeof bucket !== 'string' || !BUCKET_PATTERN.test(bucket))) fail(`store "${storeId}": "bucket" is not an S3 bucket name`);
    if (description !== undefined && typeof description !== 'string') fail(`store "${storeId}": "description" must be a string`);
    if (entry.default !== undefined && typeof entry.default !== 'boolean') fail(`store "${storeId}": "default" must be true or false`);
    return {
      id: storeId,
      bucket: (bucket as string | undefined) ?? null,
      region: (region as string | undefined) ?? fallbackRegion,
      description: (description as string | undefined) ?? (bucket ? `S3 bucket ${bucket as string}` : `Skyglass store ${storeId}`),
      default: entry.default === true,
    };
  });
  const ids = stores.map((s) => s.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) fail(`store "${twice}" is listed twice`);
  const buckets = stores.map((s) => s.bucket).filter((b): b is string => b !== null);
  const shared = buckets.find((b, i) => buckets.indexOf(b) !== i);
  if (shared) fail(`bucket ${shared} backs two stores; each store needs its own bucket`);
  const defaults = stores.filter((s) => s.default);
  if (stores.length === 1 && defaults.length === 0) stores[0]!.default = true;
  else if (defaults.length !== 1) fail(`exactly one store must be "default": true (found ${defaults.length})`);
  return stores;
}

/** A store list whose every store has a bucket: named, or `bucketFor` its id (fails where it gives none). */
export function parseStores(raw: unknown, source: string, fallbackRegion: string, bucketFor?: (id: string) => string): StoreDefinition[] {
  return parseStoreSettings(raw, source, fallbackRegion).map((store) => {
    const bucket = store.bucket ?? bucketFor?.(store.id);
    if (!bucket || !BUCKET_PATTERN.test(bucket)) throw new Error(`${source}: store "${store.id}" names no "bucket"`);
    return { ...store, bucket };
  });
}

/** The deployment's stores, and the rules requests about them follow. */
export class StoreCatalog {
  readonly stores: readonly StoreDefinition[];
  readonly defaultStore: StoreDefinition;

  /**
   * @param multiStore whether stores were configured (Glance's enabled_backends): without, the
   *   one store is implicit and nothing about stores is shown or accepted, as single-store Glance.
   */
  constructor(stores: readonly StoreDefinition[], readonly multiStore: boolean) {
    const fallback = stores.find((s) => s.default);
    if (!fallback) throw new Error('StoreCatalog: no default store');
    this.stores = stores;
    this.defaultStore = fallback;
  }

  /** The deployment's one implicit store (no stores configured). */
  static single(bucket: string, region: string): StoreCatalog {
    return new StoreCatalog([{ id: 'default', bucket, region, description: `S3 bucket ${bucket}`, default: true }], false);
  }

  get ids(): string[] {
    return this.stores.map((s) => s.id);
  }

  find(id: string): StoreDefinition | undefined {
    return this.stores.find((s) => s.id === id);
  }

  /**
   * The store data sent with X-Image-Meta-Store lands in (PUT /file, the uploads extension): the
   * default when absent. Glance answers an unknown store 400; without multi-store the header is
   * ignored, as Glance ignores it.
   */
  landingStore(requested: string | undefined): StoreDefinition {
    if (!this.multiStore || requested === undefined) return this.defaultStore;
    const store = this.find(requested.trim());
    if (!store) throw badRequest(`Store for identifier ${requested.trim()} not found`);
    return store;
  }

  /** What an image records for bytes in this store: nothing without multi-store (the implicit store). */
  recorded(store: StoreDefinition): string[] {
    return this.multiStore ? [store.id] : [];
  }

  /** The stores holding the image's bytes at `location` (an empty list is the default store). */
  storesOf(image: Pick<Image, 'stores'>): StoreDefinition[] {
    // One store: every byte is in it, whatever a multi-store configuration once recorded.
    if (!this.multiStore) return [this.defaultStore];
    const named = (image.stores ?? []).map((id) => this.find(id)).filter((s): s is StoreDefinition => s !== undefined);
    return named.length > 0 ? named : image.stores?.length ? [] : [this.defaultStore];
  }

  /**
   * Where a download goes: Glance has no download store selector, so the image's copy in the
   * default store when it has one, else its first store in configuration order (the order the
   * operator lists them, e.g. nearest first).
   */
  downloadStore(image: Pick<Image, 'stores'>): StoreDefinition | undefined {
    const held = this.storesOf(image);
    return held.find((s) => s.default) ?? this.stores.find((s) => held.includes(s));
  }

  /** Glance's 404 where multi-store is off (GET /v2/info/stores, DELETE /v2/stores/…). */
  requireMultiStore(): void {
    if (!this.multiStore) throw new GlanceError(404, 'Multi backend is not supported at this site.');
  }

  /** GET /v2/info/stores (`default` is the string "true", as Glance) and, for admins, /detail. */
  infoView(detail: boolean) {
    this.requireMultiStore();
    return {
      stores: this.stores.map((s) => ({
        id: s.id,
        description: s.description,
        ...(s.default ? { default: 'true' } : {}),
        ...(detail ? { type: 's3', properties: { bucket: s.bucket, region: s.region } } : {}),
      })),
    };
  }

  /**
   * The stores a glance-direct import lands in, by Glance's rules (glance/common/utils.py
   * get_stores_from_request): `all_stores`, or `stores`, or X-Image-Meta-Store, or the default;
   * `all_stores` with either of the others and `stores` with the header are 400, an unknown
   * store 409.
   */
  importTargets(body: Record<string, unknown>, header: string | undefined): ImportTargets | null {
    if (!this.multiStore) return null;
    const allMustSucceed = body.all_stores_must_succeed === undefined ? true : body.all_stores_must_succeed;
    if (typeof allMustSucceed !== 'boolean') throw badRequest("'all_stores_must_succeed' must be true or false");
    if (body.all_stores !== undefined && typeof body.all_stores !== 'boolean') throw badRequest("'all_stores' must be true or false");
    let requested: unknown[];
    if (body.all_stores === true) {
      if (body.stores !== undefined || header !== undefined) throw badRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter");
      requested = this.ids;
    } else if (body.stores !== undefined) {
      if (header !== undefined) throw badRequest("Stores parameter and x-image-meta-store header can't be both specified");
      if (!Array.isArray(body.stores) || body.stores.length === 0) throw badRequest("'stores' must be a non-empty list of store identifiers");
      requested = body.stores;
    } else {
      requested = [header?.trim() ?? this.defaultStore.id];
    }
    for (const id of requested) {
      if (typeof id !== 'string' || !this.find(id)) throw conflict(`Store for identifier ${String(id)} not found`);
    }
    return { stores: [...new Set(requested as string[])], all_stores_must_succeed: allMustSucceed };
  }
}

/** A list of store ids as Glance's properties show them: comma-separated, sorted as the image's `stores` is. */
export function storesProperty(stores: readonly string[]): string {
  return [...stores].sort().join(',');
}

/** Glance's import progress properties: the stores still to land in, and those that failed. */
export const IMPORTING_TO_STORES = 'os_glance_importing_to_stores';
export const FAILED_IMPORT = 'os_glance_failed_import';

/** The image as an import to `targets` starts: Glance shows where it is going (os_glance_importing_to_stores). */
export function importingTo(image: Image, targets: ImportTargets | null): Image {
  if (!targets) return image;
  return { ...image, import_targets: targets, properties: { ...image.properties, [IMPORTING_TO_STORES]: storesProperty(targets.stores), [FAILED_IMPORT]: '' } };
}

/**
 * How an import's landing ends: active in the stores it reached, Glance's properties left as
 * `""` and the failed stores, or refused when a store it had to reach failed
 * (all_stores_must_succeed, Glance's default) or it reached none.
 */
export function importLanding(targets: ImportTargets, reached: readonly string[]): { stores: string[]; failed: string[]; refused: string | null } {
  const failed = targets.stores.filter((id) => !reached.includes(id));
  const stores = targets.stores.filter((id) => reached.includes(id));
  const refused = failed.length > 0 && (targets.all_stores_must_succeed || stores.length === 0) ? `the data could not be copied to store(s) ${storesProperty(failed)}` : null;
  return { stores, failed, refused };
}

/** The import's end written on the image: where its bytes are, and Glance's progress properties. */
export function landed(image: Image, stores: string[], failed: string[]): Image {
  return { ...image, stores, import_targets: null, properties: { ...image.properties, [IMPORTING_TO_STORES]: '', [FAILED_IMPORT]: storesProperty(failed) } };
}

/** The stores a progress property lists (`""` is none). */
export function storesListed(image: Pick<Image, 'properties'>, property: string): string[] {
  const value = image.properties[property];
  return typeof value === 'string' ? value.split(',').filter((id) => id !== '') : [];
}

/**
 * Where a copy-image import copies to, by Glance's rules (glance/api/v2/images.py import_image):
 * the request's stores as for any import, less those the image is already in when `all_stores`
 * asks for every store (null: nothing left to copy, Glance's 202 that does nothing), and 400
 * "Image is already present at store" when the request names one the image is in.
 */
export function copyTargets(catalog: StoreCatalog, image: Image, body: Record<string, unknown>, header: string | undefined): ImportTargets | null {
  const targets = catalog.importTargets(body, header);
  if (!targets) throw conflict("copy-image needs the deployment's stores (multi-store): this site has one store only");
  const held = catalog.storesOf(image).map((s) => s.id);
  if (body.all_stores === true) {
    const stores = targets.stores.filter((id) => !held.includes(id));
    return stores.length > 0 ? { ...targets, stores } : null;
  }
  const present = targets.stores.find((id) => held.includes(id));
  if (present) throw badRequest(`Image is already present at store '${present}'`);
  return targets;
}

/**
 * A copy-image import as it starts: the image stays active, its progress properties say where it
 * goes, and `stores` names the stores it is in (an image from before stores were configured
 * records none, which is the default store: named now, as the copies will add to the list).
 */
export function copyingTo(image: Image, targets: ImportTargets, held: readonly string[]): Image {
  return importingTo({ ...image, stores: [...held] }, targets);
}

/** The stores a copy-image import still has to copy to (Glance's os_glance_importing_to_stores). */
export function copiesPending(image: Image): string[] {
  const targets = image.import_targets?.stores ?? [];
  return storesListed(image, IMPORTING_TO_STORES).filter((id) => targets.includes(id));
}

/**
 * The image once one store of its copy-image import is done, as Glance records it store by
 * store: `stores` grows by a copied store, a failed one goes to os_glance_failed_import, and
 * each leaves os_glance_importing_to_stores. With the last, the import ends (`import_targets`
 * cleared, which settles its task); when a store it had to reach failed (all_stores_must_succeed,
 * Glance's default) the copies it made are given up, as Glance reverts them: `revoked` names the
 * stores whose copy the caller deletes after the write.
 */
export function copyRecorded(image: Image, storeId: string, copied: boolean): { image: Image; finished: boolean; revoked: string[] } {
  const targets = image.import_targets;
  if (!targets) return { image, finished: false, revoked: [] };
  const pending = copiesPending(image).filter((id) => id !== storeId);
  const failed = storesListed(image, FAILED_IMPORT).filter((id) => id !== storeId).concat(copied ? [] : [storeId]);
  const held = image.stores ?? [];
  const stores = copied && !held.includes(storeId) ? [...held, storeId] : held;
  const properties = { ...image.properties, [IMPORTING_TO_STORES]: storesProperty(pending), [FAILED_IMPORT]: storesProperty(failed) };
  if (pending.length > 0) return { image: { ...image, stores, properties }, finished: false, revoked: [] };
  const reached = targets.stores.filter((id) => stores.includes(id));
  const refused = failed.length > 0 && (targets.all_stores_must_succeed || reached.length === 0);
  const kept = refused ? stores.filter((id) => !targets.stores.includes(id)) : stores;
  return { image: { ...image, stores: kept, properties, import_targets: null }, finished: true, revoked: refused ? reached : [] };
}

/** Whether the image is in a copy-image import (active, or deactivated during one, with targets). */
export function isCopying(image: Pick<Image, 'status' | 'import_targets'>): boolean {
  return (image.status === 'active' || image.status === 'deactivated') && !!image.import_targets;
}
