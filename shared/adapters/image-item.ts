import type { Image } from '../domain/image.js';

type Item = Record<string, unknown>;

/** What an image item stores, by name; anything else on the item (keys, index attributes, outbox) is not the image. */
const IMAGE_FIELDS = [
  'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'owner', 'checksum', 'os_hash_algo', 'os_hash_value',
  'size', 'virtual_size', 'min_disk', 'min_ram', 'disk_format', 'container_format', 'tags', 'created_at', 'updated_at',
  'properties', 'location', 'stores', 'import_targets', 'import_source', 'import_fetch', 'upload', 'failure', 'scrub', 'task_id', 'version',
] as const;

export function imageFromItem(item: Item): Image {
  const image = {} as Record<string, unknown>;
  for (const field of IMAGE_FIELDS) image[field] = item[field] ?? null;
  // JSON.parse makes `__proto__` an own property; copying into a prototype-less object keeps it data.
  const props = Object.create(null) as Record<string, string>;
  const parsed = typeof item.properties === 'string' ? (JSON.parse(item.properties) as Record<string, string>) : {};
  for (const [k, v] of Object.entries(parsed)) Object.defineProperty(props, k, { value: v, enumerable: true, writable: true, configurable: true });
  image.properties = props;
  image.tags = Array.isArray(item.tags) ? [...(item.tags as string[])] : [];
  // Items written before stores existed have none: their bytes are in the default store.
  if (Array.isArray(item.stores)) image.stores = [...(item.stores as string[])];
  else delete image.stores;
  if (!item.import_targets) delete image.import_targets;
  if (!item.import_source) delete image.import_source;
  if (!item.import_fetch) delete image.import_fetch;
  return image as unknown as Image;
}
