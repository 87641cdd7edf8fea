import type { ParseArgsOptionDescriptor } from 'node:util';
import type { Image, ImageApi } from './api.js';
import { downloadImageData } from './download.js';
import { ApiError, CliError, EXIT, usageError } from './errors.js';
import { listTable, propertyTable } from './render.js';
import { fileToUpload, settle, uploadImageData } from './upload.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Context {
  api(): ImageApi;
  json: boolean;
  out(text: string): void;
  say(line: string): void;
  /** --debug lines. */
  trace(line: string): void;
  signal: AbortSignal;
}

type Option = ParseArgsOptionDescriptor & { help: string; arg?: string };

export interface Verb {
  name: string;
  summary: string;
  /** Positional arguments, in order ('...' at the end: any number). */
  args: string[];
  options: Record<string, Option>;
  run(ctx: Context, values: Values, args: string[]): Promise<void>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);

function int(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw usageError(`argument --${name}: invalid int value: '${String(v)}'`);
  return Number(v);
}

function bool(name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  const s = String(v).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw usageError(`argument --${name}: invalid boolean value: '${String(v)}' (true or false)`);
}

/** `k=v` pairs of --property / --property-filter. */
function pairs(name: string, values: string[]): Array<[string, string]> {
  return values.map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw usageError(`argument --${name}: '${kv}' is not of the form <key>=<value>`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  });
}

function showImage(ctx: Context, image: Record<string, unknown>): void {
  ctx.out(ctx.json ? JSON.stringify(image, null, 2) : propertyTable(image));
}

/** The image fields glance's image-create and image-update take as flags. */
const IMAGE_FIELDS: Record<string, Option> = {
  name: { type: 'string', help: 'Descriptive name for the image', arg: '<NAME>' },
  'disk-format': { type: 'string', help: 'Format of the disk (raw, qcow2, vmdk, vhd, vhdx, vdi, iso, ploop, aki, ari, ami)', arg: '<DISK_FORMAT>' },
  'container-format': { type: 'string', help: 'Format of the container (bare, ovf, ova, aki, ari, ami, docker, compressed)', arg: '<CONTAINER_FORMAT>' },
  visibility: { type: 'string', help: 'Scope of image accessibility (public, private, community, shared)', arg: '<VISIBILITY>' },
  'min-disk': { type: 'string', help: 'Amount of disk space (in GB) required to boot image', arg: '<MIN_DISK>' },
  'min-ram': { type: 'string', help: 'Amount of ram (in MB) required to boot image', arg: '<MIN_RAM>' },
  protected: { type: 'string', help: 'If true, image will not be deletable', arg: '[True|False]' },
  'os-hidden': { type: 'string', help: 'If true, image will not appear in default image list response', arg: '[True|False]' },
  property: { type: 'string', multiple: true, help: 'Arbitrary property to associate with image (repeat for several)', arg: '<key=value>' },
};

function imageFields(values: Values): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of pairs('property', list(values.property))) fields[k] = v;
  if (str(values.name) !== undefined) fields.name = values.name;
  if (str(values['disk-format'])) fields.disk_format = values['disk-format'];
  if (str(values['container-format'])) fields.container_format = values['container-format'];
  if (str(values.visibility)) fields.visibility = values.visibility;
  const minDisk = int('min-disk', values['min-disk']);
  if (minDisk !== undefined) fields.min_disk = minDisk;
  const minRam = int('min-ram', values['min-ram']);
  if (minRam !== undefined) fields.min_ram = minRam;
  const prot = bool('protected', values.protected);
  if (prot !== undefined) fields.protected = prot;
  const hidden = bool('os-hidden', values['os-hidden']);
  if (hidden !== undefined) fields.os_hidden = hidden;
  return fields;
}

/** A file to create an image with: readable, and both formats given (glance's rule). Refused before the image exists, so a bad command leaves nothing behind. */
function checkDataFile(file: string, values: Values): void {
  fileToUpload(file);
  if (!str(values['disk-format']) || !str(values['container-format'])) throw usageError('Must provide --container-format, --disk-format when using --file.');
}

const TRANSFER: Record<string, Option> = {
  progress: { type: 'boolean', help: 'Show a progress bar with throughput and ETA (on a terminal)' },
  parallel: { type: 'string', help: 'Parts sent at once (default 8)', arg: '<N>' },
};

function parallel(values: Values): number {
  const n = int('parallel', values.parallel) ?? 8;
  if (n < 1 || n > 64) throw usageError('argument --parallel: between 1 and 64');
  return n;
}

function upload(ctx: Context, id: string, file: string, values: Values, resumeOnly: boolean, stage = false): Promise<Image> {
  return uploadImageData(ctx.api(), id, file, { parallel: parallel(values), progress: Boolean(values.progress), resumeOnly, stage, signal: ctx.signal, say: ctx.say, trace: ctx.trace });
}

/** glance's refusals of an import the service cannot do here (exit 1, as glance's), before anything is written. */
const importRefusal = (message: string) => new CliError(message, EXIT.api);

/** The method must be one the service lists in GET /v2/info/import, as glance checks. */
/** glance's _validate_backend: the store must be one stores-info lists. */
async function checkStore(ctx: Context, store: string): Promise<void> {
  let info: Record<string, unknown>;
  try {
    info = await ctx.api().storesInfo(false);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw importRefusal('Multi Backend support is not enabled');
    throw error;
  }
  const ids = ((info.stores as Array<{ id?: string }> | undefined) ?? []).map((s) => s.id);
  if (!ids.includes(store)) throw importRefusal(`Store '${store}' is not valid for this cloud. Valid values can be retrieved with stores-info command.`);
}

async function checkImportMethod(ctx: Context, method: string): Promise<void> {
  let info: Record<string, unknown>;
  try {
    info = await ctx.api().importInfo();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw importRefusal('Target Glance does not support Image Import workflow');
    throw error;
  }
  const offered = ((info['import-methods'] as { value?: string[] } | undefined)?.value ?? []) as string[];
  if (!offered.includes(method)) throw importRefusal(`Import method '${method}' is not valid for this cloud. Valid values can be retrieved with import-info command.`);
}

const IMPORT: Record<string, Option> = {
  'import-method': { type: 'string', help: 'Import method (those import-info lists); default env[OS_IMAGE_IMPORT_METHOD], or glance-direct with --file', arg: '<METHOD>' },
  uri: { type: 'string', help: 'URI to download the external image (web-download)', arg: '<IMAGE_URL>' },
  wait: { type: 'boolean', help: 'Wait until the import settles and show the final image (always done with --file)' },
};

const importMethod = (method: string, uri: string | undefined) => ({ name: method, ...(uri ? { uri } : {}) });

const MEMBER_COLUMNS: Array<[string, string]> = [['Image ID', 'image_id'], ['Member ID', 'member_id'], ['Status', 'status']];
const showMember = (ctx: Context, m: Record<string, unknown>) => ctx.out(ctx.json ? JSON.stringify(m, null, 2) : listTable([m], MEMBER_COLUMNS));

export const VERBS: Verb[] = [
  {
    name: 'image-create',
    summary: 'Create a new image; with --file, upload its data in parallel parts and wait until it is active',
    args: [],
    options: { ...IMAGE_FIELDS, file: { type: 'string', help: 'Local file with the image data (sent through the uploads extension)', arg: '<FILE>' }, ...TRANSFER },
    async run(ctx, values) {
      const file = str(values.file);
      if (file) checkDataFile(file, values);
      const image = await ctx.api().createImage(imageFields(values));
      if (!file) return showImage(ctx, image);
      ctx.say(`created image ${image.id}`);
      showImage(ctx, await upload(ctx, image.id, file, values, false));
    },
  },
  {
    name: 'image-create-via-import',
    summary: 'Create a new image through the import workflow; with --file, stage its data in parallel parts, import it and wait until it is active',
    args: [],
    options: { ...IMAGE_FIELDS, file: { type: 'string', help: 'Local file with the image data (glance-direct: staged through the uploads extension)', arg: '<FILE>' }, ...IMPORT, ...TRANSFER },
    async run(ctx, values) {
      const file = str(values.file);
      const uri = str(values.uri);
      const method = str(values['import-method']) ?? (process.env.OS_IMAGE_IMPORT_METHOD || undefined) ?? (file ? 'glance-direct' : undefined);
      // glance's checks, in glance's order, all before the image exists.
      if (method === 'copy-image') throw importRefusal("Import method 'copy-image' cannot be used while creating the image.");
      if (method) await checkImportMethod(ctx, method);
      else if (uri) throw usageError('You cannot use --uri without specifying an import method.');
      if (method === 'glance-direct') {
        if (uri) throw usageError('You cannot specify a --uri with the glance-direct import method.');
        if (!file) throw usageError('You must specify a --file for the glance-direct import method.');
      }
      if (method === 'web-download') {
        if (!uri) throw usageError("URI is required for web-download import method. Please use '--uri <uri>'.");
        if (file) throw usageError('You cannot specify a --file with the web-download import method.');
      }
      if (file) checkDataFile(file, values);
      const image = await ctx.api().createImage(imageFields(values));
      if (!method) return showImage(ctx, image);
      ctx.say(`created image ${image.id}`);
      if (file) await upload(ctx, image.id, file, values, false, true);
      await ctx.api().importImage(image.id, importMethod(method, uri));
      showImage(ctx, file || values.wait ? await settle(ctx.api(), image.id, ctx.signal) : await ctx.api().getImage(image.id));
    },
  },
  {
    name: 'image-upload',
    summary: 'Upload data to a queued image (resumes an interrupted upload of the same file)',
    args: ['<IMAGE_ID>'],
    options: { file: { type: 'string', help: 'Local file with the image data', arg: '<FILE>' }, resume: { type: 'boolean', help: 'Only continue an interrupted upload; fail if there is none' }, ...TRANSFER },
    async run(ctx, values, [id]) {
      const file = str(values.file);
      if (!file) throw usageError('image-upload needs --file <FILE>');
      showImage(ctx, await upload(ctx, id!, file, values, Boolean(values.resume)));
    },
  },
  {
    name: 'image-stage',
    summary: 'Stage data for a queued image, for image-import (resumes an interrupted staging of the same file)',
    args: ['<IMAGE_ID>'],
    options: { file: { type: 'string', help: 'Local file with the image data', arg: '<FILE>' }, resume: { type: 'boolean', help: 'Only continue an interrupted staging; fail if there is none' }, ...TRANSFER },
    async run(ctx, values, [id]) {
      const file = str(values.file);
      if (!file) throw usageError('image-stage needs --file <FILE>');
      showImage(ctx, await upload(ctx, id!, file, values, Boolean(values.resume), true));
    },
  },
  {
    name: 'image-import',
    summary: 'Import an image: glance-direct imports the data image-stage staged',
    args: ['<IMAGE_ID>'],
    options: {
      ...IMPORT,
      'import-method': { ...IMPORT['import-method']!, help: 'Import method (those import-info lists; default glance-direct)' },
      store: { type: 'string', help: 'Store to import the image data into (stores-info lists them)', arg: '<STORE>' },
      stores: { type: 'string', help: 'Stores to import or copy (copy-image) the image data into, comma-separated', arg: '<STORES>' },
      'all-stores': { type: 'string', help: 'Import or copy into every store (instead of --stores)', arg: '[True|False]' },
      'allow-failure': { type: 'string', help: 'Whether some of the stores may fail (default True, as glance)', arg: '[True|False]' },
    },
    async run(ctx, values, [id]) {
      const method = str(values['import-method']) ?? 'glance-direct';
      const uri = str(values.uri);
      const store = str(values.store);
      const stores = str(values.stores)?.split(',').filter(Boolean);
      const allStores = bool('all-stores', values['all-stores']) ?? false;
      const allowFailure = bool('allow-failure', values['allow-failure']) ?? true;
      // glance's order of checks (glanceclient v2 do_image_import).
      if ((store && (stores || allStores)) || (stores && allStores)) throw usageError('Only one of --store, --stores and --all-stores can be provided');
      for (const s of store ? [store] : (stores ?? [])) await checkStore(ctx, s);
      await checkImportMethod(ctx, method);
      if (method === 'web-download' && !uri) throw usageError('Provide URI for web-download import method.');
      if (uri && method !== 'web-download') throw usageError("Import method should be 'web-download' if URI is provided.");
      if (method === 'copy-image' && !(stores || allStores)) throw usageError("Provide either --stores or --all-stores for 'copy-image' import method.");
      const image = await ctx.api().getImage(id!);
      if (!image.container_format || !image.disk_format) throw importRefusal("The 'container_format' and 'disk_format' properties must be set on an image before it can be imported.");
      if (method === 'glance-direct' && image.status !== 'uploading') throw importRefusal("The 'glance-direct' import method can only be applied to an image in status 'uploading'");
      if (method === 'web-download' && image.status !== 'queued') throw importRefusal("The 'web-download' import method can only be applied to an image in status 'queued'");
      if (method === 'copy-image' && image.status !== 'active') throw importRefusal("The 'copy-image' import method can only be used on an image with status 'active'.");
      // As glanceclient sends them: a store list or all_stores, and all_stores_must_succeed false when failures are allowed.
      const targets = { ...(stores ? { stores } : {}), ...(allStores ? { all_stores: true } : {}), ...((stores || allStores) && allowFailure ? { all_stores_must_succeed: false } : {}) };
      await ctx.api().importImage(id!, importMethod(method, uri), targets, store);
      showImage(ctx, values.wait ? await settle(ctx.api(), id!, ctx.signal) : await ctx.api().getImage(id!));
    },
  },
  {
    name: 'image-download',
    summary: 'Download an image\'s data, resuming a partial download, verifying its checksums',
    args: ['<IMAGE_ID>'],
    options: { file: { type: 'string', help: 'Local file to save the data to (default: stdout)', arg: '<FILE>' }, progress: TRANSFER.progress! },
    async run(ctx, values, [id]) {
      const file = str(values.file);
      if (!file && process.stdout.isTTY) throw usageError('No redirection or local file specified for downloaded image data. Please specify a local file with --file to save downloaded image or redirect output to another source.');
      const got = await downloadImageData(ctx.api(), id!, file, { progress: Boolean(values.progress), signal: ctx.signal, say: ctx.say, trace: ctx.trace });
      if (file) ctx.out(ctx.json ? JSON.stringify({ id, file, ...got }) : propertyTable({ id, file, ...got }, []));
    },
  },
  {
    name: 'image-show',
    summary: 'Describe a specific image',
    args: ['<IMAGE_ID>'],
    options: {},
    async run(ctx, _values, [id]) {
      showImage(ctx, await ctx.api().getImage(id!));
    },
  },
  {
    name: 'image-list',
    summary: 'List images you can access',
    args: [],
    options: {
      limit: { type: 'string', help: 'Maximum number of images to get', arg: '<LIMIT>' },
      'page-size': { type: 'string', help: 'Number of images to request in each paginated request', arg: '<SIZE>' },
      visibility: { type: 'string', help: 'The visibility of the images to display', arg: '<VISIBILITY>' },
      'member-status': { type: 'string', help: 'The status of images to display', arg: '<MEMBER_STATUS>' },
      owner: { type: 'string', help: 'Display images owned by <OWNER>', arg: '<OWNER>' },
      'property-filter': { type: 'string', multiple: true, help: 'Filter images by a user-defined image property', arg: '<KEY=VALUE>' },
      checksum: { type: 'string', help: 'Displays images that match the MD5 checksum', arg: '<CHECKSUM>' },
      'os-hash-value': { type: 'string', help: 'Displays images that match the specified hash value', arg: '<HASH_VALUE>' },
      tag: { type: 'string', multiple: true, help: 'Filter images by a user-defined tag', arg: '<TAG>' },
      'sort-key': { type: 'string', multiple: true, help: 'Sort image list by specified fields', arg: '<KEY>' },
      'sort-dir': { type: 'string', multiple: true, help: 'Sort image list in specified directions (asc, desc)', arg: '<DIR>' },
      sort: { type: 'string', help: 'Comma-separated list of sort keys and directions in the form of <key>[:<asc|desc>]', arg: '<key>[:<direction>]' },
      hidden: { type: 'boolean', help: 'Include hidden images' },
      verbose: { type: 'boolean', help: 'Show more columns (as glance --verbose): disk and container format, size, status, owner' },
    },
    async run(ctx, values) {
      const limit = int('limit', values.limit);
      const pageSize = int('page-size', values['page-size']);
      if (values.sort && (list(values['sort-key']).length || list(values['sort-dir']).length)) throw usageError('argument --sort: not allowed with --sort-key/--sort-dir');
      const q = new URLSearchParams();
      for (const [k, v] of pairs('property-filter', list(values['property-filter']))) q.append(k, v);
      for (const k of ['visibility', 'owner', 'checksum'] as const) if (str(values[k])) q.set(k, values[k] as string);
      if (str(values['member-status'])) q.set('member_status', values['member-status'] as string);
      if (str(values['os-hash-value'])) q.set('os_hash_value', values['os-hash-value'] as string);
      if (values.hidden) q.set('os_hidden', 'true');
      for (const t of list(values.tag)) q.append('tag', t);
      if (str(values.sort)) q.set('sort', values.sort as string);
      else if (!list(values['sort-key']).length && !list(values['sort-dir']).length) {
        // glanceclient's default order.
        q.set('sort_key', 'name');
        q.set('sort_dir', 'asc');
      }
      for (const k of list(values['sort-key'])) q.append('sort_key', k);
      for (const d of list(values['sort-dir'])) q.append('sort_dir', d);
      const images: Image[] = [];
      let page = await ctx.api().listPage(withLimit(q, pageSize ?? limit));
      for (;;) {
        images.push(...page.images);
        if (!page.next || (limit !== undefined && images.length >= limit)) break;
        page = await ctx.api().nextPage(page.next);
      }
      const shown = limit === undefined ? images : images.slice(0, limit);
      if (ctx.json) return ctx.out(JSON.stringify(shown, null, 2));
      const columns: Array<[string, string]> = [['ID', 'id'], ['Name', 'name']];
      if (values.verbose) columns.push(['Disk_format', 'disk_format'], ['Container_format', 'container_format'], ['Size', 'size'], ['Status', 'status'], ['Owner', 'owner']);
      ctx.out(listTable(shown, columns));
    },
  },
  {
    name: 'image-update',
    summary: 'Update an existing image',
    args: ['<IMAGE_ID>'],
    options: { ...IMAGE_FIELDS, 'remove-property': { type: 'string', multiple: true, help: 'Name of arbitrary property to remove from the image', arg: '<key>' } },
    async run(ctx, values, [id]) {
      const fields = imageFields(values);
      const removed = list(values['remove-property']);
      if (!Object.keys(fields).length && !removed.length) throw usageError('image-update: nothing to change (give --name, --property k=v, --remove-property k, ...)');
      const current = await ctx.api().getImage(id!);
      const ops: unknown[] = Object.entries(fields).map(([k, v]) => ({ op: k in current ? 'replace' : 'add', path: `/${escapePointer(k)}`, value: v }));
      for (const k of removed) {
        if (!(k in current)) throw usageError(`Property '${k}' is not present in image ${id}`);
        ops.push({ op: 'remove', path: `/${escapePointer(k)}` });
      }
      showImage(ctx, await ctx.api().updateImage(id!, ops));
    },
  },
  {
    name: 'image-delete',
    summary: 'Delete specified image(s)',
    args: ['<IMAGE_ID>', '...'],
    options: {},
    async run(ctx, _values, ids) {
      const failures: string[] = [];
      for (const id of ids) {
        try {
          await ctx.api().deleteImage(id);
        } catch (error) {
          failures.push(`Unable to delete image '${id}' because ${(error as Error).message}`);
        }
      }
      if (failures.length) throw new CliError(failures.join('\n'), EXIT.api);
    },
  },
  ...(['update', 'delete'] as const).map(
    (which): Verb => ({
      name: `image-tag-${which}`,
      summary: which === 'update' ? 'Update an image with the given tag' : 'Delete the tag associated with the given image',
      args: ['<IMAGE_ID>', '<TAG_VALUE>'],
      options: {},
      async run(ctx, _values, [id, tag]) {
        if (which === 'update') {
          await ctx.api().addTag(id!, tag!);
          showImage(ctx, await ctx.api().getImage(id!));
        } else await ctx.api().deleteTag(id!, tag!);
      },
    }),
  ),
  ...(['deactivate', 'reactivate'] as const).map(
    (action): Verb => ({
      name: `image-${action}`,
      summary: `${action === 'deactivate' ? 'Deactivate' : 'Reactivate'} specified image`,
      args: ['<IMAGE_ID>'],
      options: {},
      async run(ctx, _values, [id]) {
        await ctx.api().action(id!, action);
      },
    }),
  ),
  {
    name: 'member-create',
    summary: 'Create member for a given image',
    args: ['<IMAGE_ID>', '<MEMBER_ID>'],
    options: {},
    async run(ctx, _values, [id, member]) {
      showMember(ctx, { ...(await ctx.api().createMember(id!, member!)) });
    },
  },
  {
    name: 'member-list',
    summary: 'Describe sharing permissions by image',
    args: [],
    options: { 'image-id': { type: 'string', help: 'Image to display members of', arg: '<IMAGE_ID>' } },
    async run(ctx, values) {
      const id = str(values['image-id']);
      if (!id) throw usageError('the following arguments are required: --image-id');
      const members = await ctx.api().listMembers(id);
      ctx.out(ctx.json ? JSON.stringify(members, null, 2) : listTable(members.map((m) => ({ ...m })), MEMBER_COLUMNS));
    },
  },
  {
    name: 'member-update',
    summary: 'Update the status of a member for a given image',
    args: ['<IMAGE_ID>', '<MEMBER_ID>', '<MEMBER_STATUS>'],
    options: {},
    async run(ctx, _values, [id, member, status]) {
      if (!['accepted', 'rejected', 'pending'].includes(status!)) throw usageError(`argument <MEMBER_STATUS>: invalid choice: '${status}' (choose from accepted, rejected, pending)`);
      showMember(ctx, { ...(await ctx.api().updateMember(id!, member!, status!)) });
    },
  },
  {
    name: 'member-delete',
    summary: 'Delete image member',
    args: ['<IMAGE_ID>', '<MEMBER_ID>'],
    options: {},
    async run(ctx, _values, [id, member]) {
      await ctx.api().deleteMember(id!, member!);
    },
  },
  {
    name: 'import-info',
    summary: 'Print the import methods available from the service',
    args: [],
    options: {},
    async run(ctx) {
      const info = await ctx.api().importInfo();
      showImage(ctx, info);
    },
  },
  {
    name: 'stores-info',
    summary: 'Print the stores (backends) the service keeps image data in',
    args: [],
    options: { detail: { type: 'boolean', help: 'Show details of the stores (admin only)' } },
    async run(ctx, values) {
      try {
        showImage(ctx, await ctx.api().storesInfo(Boolean(values.detail)));
      } catch (error) {
        // What glance says of a service without multiple stores (a stack without skyglass:stores, or SKYGLASS_STORES=off).
        if (error instanceof ApiError && error.status === 404) throw importRefusal('Multi Backend support is not enabled');
        throw error;
      }
    },
  },
];

/** JSON pointer escaping (RFC 6901) of a property name in a patch path. */
const escapePointer = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

function withLimit(q: URLSearchParams, limit: number | undefined): string {
  const query = new URLSearchParams(q);
  if (limit !== undefined) query.set('limit', String(limit));
  const s = query.toString();
  return s ? `?${s}` : '';
}

