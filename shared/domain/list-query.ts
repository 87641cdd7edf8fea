/**
 * `GET /v2/images`: query parsing, the filter predicate, the sort comparator and the
 * `first`/`next` links, as Glance 25 (Zed) does them. Pure: no I/O.
 *
 * Sources of truth: glance/api/v2/images.py (RequestDeserializer.index, ImagesController.index,
 * ResponseSerializer.index), glance/db/sqlalchemy/api.py (image_get_all,
 * _make_conditions_from_filters), glance/common/utils.py (split_filter_op,
 * split_filter_value_for_quotes) and webob's query-string parsing.
 *
 * Repeated parameters follow webob's MultiDict as Glance uses it: `limit`, `marker`,
 * `member_status` and `sort` take the first value (`params.pop`), `tag`, `sort_key` and
 * `sort_dir` take every value, every other filter takes the last value (`params.get`).
 */
import { badRequest } from './errors.js';
import { canonicalId, type Image } from './image.js';

/** Each query key → all its values, in order, already URL-decoded. */
export type QueryParams = Record<string, string[]>;

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 1000;

export const SORTABLE_KEYS = [
  'name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at',
] as const;
export type SortableKey = (typeof SORTABLE_KEYS)[number];
export type SortDir = 'asc' | 'desc';
export interface SortKey {
  key: SortableKey;
  dir: SortDir;
}

export const LIST_VISIBILITIES = ['public', 'private', 'shared', 'community', 'all'] as const;
export type ListVisibility = (typeof LIST_VISIBILITIES)[number];

export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected', 'all'] as const;
export type MemberStatusFilter = (typeof MEMBER_STATUSES)[number];

/** `name=x` / `name=eq:x` (op eq) or `name=in:a,"b,c"` (op in). */
export type MatchFilter = { op: 'eq'; value: string } | { op: 'in'; values: string[] };
export const MATCH_FILTER_KEYS = ['name', 'id', 'status', 'container_format', 'disk_format'] as const;
export type MatchFilterKey = (typeof MATCH_FILTER_KEYS)[number];

export const TIME_OPERATORS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'] as const;
export type TimeOperator = (typeof TIME_OPERATORS)[number];
/** A point in time, UTC, to the microsecond (Glance parses with `iso8601`, microsecond precision). */
export interface Instant {
  epochSeconds: number;
  micros: number;
}
export interface TimeFilter {
  op: TimeOperator;
  /** The time as sent (after the operator). */
  value: string;
  instant: Instant;
}

/** Integer attributes that take `<attr>_min` / `<attr>_max` (inclusive) range filters. */
export const RANGE_KEYS = ['size', 'virtual_size', 'min_disk', 'min_ram'] as const;
export type RangeKey = (typeof RANGE_KEYS)[number];
export interface RangeFilter {
  key: RangeKey;
  bound: 'min' | 'max';
  value: number;
}

/**
 * Image columns other than the dedicated filters that Glance compares for equality when named
 * as a query key. `visibility` lands here only as `visibility=` (empty: Glance skips validation
 * and then filters on `visibility == ''`, which matches nothing); `deleted_at` is always NULL on
 * listable images, so it matches nothing either.
 */
export const ATTRIBUTE_FILTER_KEYS = [
  'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'min_disk', 'min_ram', 'visibility', 'deleted_at',
] as const;
export type AttributeFilterKey = (typeof ATTRIBUTE_FILTER_KEYS)[number];
const NUMERIC_ATTRIBUTES: readonly string[] = ['size', 'virtual_size', 'min_disk', 'min_ram'];

export interface ListFilters {
  name: MatchFilter | null;
  id: MatchFilter | null;
  status: MatchFilter | null;
  container_format: MatchFilter | null;
  disk_format: MatchFilter | null;
  /** Every tag must be on the image (AND). Values are trimmed, as Glance does. */
  tags: string[];
  ranges: RangeFilter[];
  created_at: TimeFilter | null;
  updated_at: TimeFilter | null;
  protected: boolean | null;
  /** Always set: Glance lists hidden images only with `os_hidden=true`, and then only them. */
  os_hidden: boolean;
  /** Applies to shared images the caller is a member of; evaluated by whoever knows the caller. */
  member_status: MemberStatusFilter;
  /** Equality on other image columns (see ATTRIBUTE_FILTER_KEYS). */
  attributes: Partial<Record<AttributeFilterKey, string>>;
  /** Equality on custom properties (`foo=bar`). Own properties only; safe for any key. */
  properties: Record<string, string>;
}

export interface ListQuery {
  /** Effective page size (already clamped to MAX_LIMIT). */
  limit: number;
  /** Id of the last image of the previous page, as sent (a UUID in lower case); not looked up here. */
  marker: string | null;
  /** Full ordering, tie-breakers included (always ends up containing created_at and id). */
  sort: SortKey[];
  filters: ListFilters;
  visibility: ListVisibility | null;
  owner: string | null;
  /** sort is exactly [created_at desc, id desc]. */
  isDefaultSort: boolean;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Keys that never become filters. */
const CONTROL_KEYS = new Set(['limit', 'marker', 'member_status', 'tag', 'sort', 'sort_key', 'sort_dir']);
/** Keys whose value Glance overwrites or consumes itself: a client value has no effect. */
const IGNORED_KEYS = new Set(['deleted']);

function first(params: QueryParams, key: string): string | undefined {
  return Object.hasOwn(params, key) ? params[key]?.[0] : undefined;
}

function last(params: QueryParams, key: string): string | undefined {
  if (!Object.hasOwn(params, key)) return undefined;
  const values = params[key];
  return values && values.length > 0 ? values[values.length - 1] : undefined;
}

function all(params: QueryParams, key: string): string[] {
  return Object.hasOwn(params, key) ? [...(params[key] ?? [])] : [];
}

function present(params: QueryParams, key: string): boolean {
  return Object.hasOwn(params, key) && (params[key]?.length ?? 0) > 0;
}

/** Python's `int(str)` for ASCII input: surrounding whitespace, a sign, `_` between digits. */
function parsePythonInt(raw: string): number | null {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(raw);
  if (!m) return null;
  const n = Number((m[2] ?? '').replaceAll('_', ''));
  return m[1] === '-' ? -n : n;
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = parsePythonInt(raw);
  if (n === null) throw badRequest('limit param must be an integer');
  if (n < 0) throw badRequest('limit param must be positive');
  return Math.min(MAX_LIMIT, n === 0 ? 0 : n); // -0 → 0
}

function validateSortKey(key: string): SortableKey {
  if (!(SORTABLE_KEYS as readonly string[]).includes(key)) {
    throw badRequest(`Invalid sort key: ${key}. It must be one of the following: ${SORTABLE_KEYS.join(', ')}.`);
  }
  return key as SortableKey;
}

function validateSortDir(dir: string): SortDir {
  if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Invalid sort direction: ${dir}`);
  return dir;
}

/**
 * Glance's two sorting syntaxes, then image_get_all's completion: a single direction applies to
 * every key and is the direction of the appended `created_at` / `id` tie-breakers; with several
 * directions the tie-breakers are `desc`.
 */
function parseSort(params: QueryParams): SortKey[] {
  const keys: SortableKey[] = [];
  const dirs: SortDir[] = [];
  const sort = first(params, 'sort');
  if (sort !== undefined) {
    if (present(params, 'sort_key') || present(params, 'sort_dir')) {
      throw badRequest('Old and new sorting syntax cannot be combined');
    }
    for (const part of sort.trim().split(',')) {
      const colon = part.indexOf(':');
      const key = colon < 0 ? part : part.slice(0, colon);
      const dir = colon < 0 ? '' : part.slice(colon + 1);
      keys.push(validateSortKey(key.trim()));
      dirs.push(validateSortDir((dir === '' ? 'desc' : dir).trim()));
    }
  } else {
    for (const k of all(params, 'sort_key')) keys.push(validateSortKey(k.trim()));
    for (const d of all(params, 'sort_dir')) dirs.push(validateSortDir(d.trim()));
    if (dirs.length > 1 && dirs.length !== keys.length) {
      throw badRequest('Number of sort dirs does not match the number of sort keys');
    }
  }
  if (keys.length === 0) keys.push('created_at');
  if (dirs.length === 0) dirs.push('desc');
  const tieDir: SortDir = dirs.length === 1 ? (dirs[0] as SortDir) : 'desc';
  const out: SortKey[] = keys.map((key, i) => ({ key, dir: dirs.length === 1 ? tieDir : (dirs[i] as SortDir) }));
  for (const key of ['created_at', 'id'] as const) {
    if (!keys.includes(key)) out.push({ key, dir: tieDir });
  }
  return out;
}

/** glance.common.utils.validate_quotes */
function validateQuotes(value: string): void {
  let open = true;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '"') continue;
    if (i > 0 && value[i - 1] === '\\') continue;
    if (open) {
      if (i > 0 && value[i - 1] !== ',') {
        throw badRequest(`Invalid filter value ${value}. There is no comma before opening quotation mark.`);
      }
    } else if (i + 1 !== value.length && value[i + 1] !== ',') {
      throw badRequest(`Invalid filter value ${value}. There is no comma after closing quotation mark.`);
    }
    open = !open;
  }
  if (!open) throw badRequest(`Invalid filter value ${value}. The quote is not closed.`);
}

/**
 * glance.common.utils.split_filter_value_for_quotes: `a,b` → [a, b]; `"a,1","b"` → [a,1, b];
 * backslash escapes inside quotes are kept as sent.
 */
export function splitInValues(value: string): string[] {
  validateQuotes(value);
  const re = /"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,/g;
  return [...value.matchAll(re)].map((m) => m[1] || m[2] || '');
}

/** glance.common.utils.split_filter_op: `op:rest`, unless the whole value is an ISO 8601 time. */
function splitFilterOp(expression: string): { op: string; threshold: string } {
  const colon = expression.indexOf(':');
  if (colon < 0) return { op: 'eq', threshold: expression };
  if (parseIsoTime(expression) !== null) return { op: 'eq', threshold: expression };
  return { op: expression.slice(0, colon), threshold: expression.slice(colon + 1) };
}

function parseMatchFilter(raw: string): MatchFilter {
  const { op, threshold } = splitFilterOp(raw);
  if (op === 'in') return { op: 'in', values: splitInValues(threshold) };
  if (op === 'eq') return { op: 'eq', value: threshold };
  throw badRequest(`Unable to filter by unknown operator '${op}'.`);
}

/** Ids compare in their one spelling (lower case), as MySQL's case-insensitive match does in Glance. */
function canonicalIds(filter: MatchFilter): MatchFilter {
  return filter.op === 'eq' ? { op: 'eq', value: canonicalId(filter.value) } : { op: 'in', values: filter.values.map(canonicalId) };
}

function parseTimeFilter(key: 'created_at' | 'updated_at', raw: string): TimeFilter {
  const { op, threshold } = splitFilterOp(raw);
  const instant = parseIsoTime(threshold);
  if (instant === null) throw badRequest(`Bad "${key}" query filter format. Use ISO 8601 DateTime notation.`);
  if (!(TIME_OPERATORS as readonly string[]).includes(op)) throw badRequest('Unable to filter on a unknown operator.');
  return { op: op as TimeOperator, value: threshold, instant };
}

function parseBooleanFilter(name: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') {
    throw badRequest(`Invalid value '${value}' for '${name}' filter. Valid values are 'true' or 'false'.`);
  }
  return value === 'true';
}

function setOwn(target: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function parseListQuery(params: QueryParams): ListQuery {
  // RequestDeserializer.index, in Glance's order of checks.
  const visibilityRaw = last(params, 'visibility');
  let visibility: ListVisibility | null = null;
  if (visibilityRaw !== undefined && visibilityRaw !== '') {
    if (!(LIST_VISIBILITIES as readonly string[]).includes(visibilityRaw)) {
      throw badRequest(`Invalid visibility value: ${visibilityRaw}`);
    }
    visibility = visibilityRaw as ListVisibility;
  }
  if (last(params, 'changes-since')) throw badRequest('The "changes-since" filter is no longer available on v2.');

  const memberStatusRaw = first(params, 'member_status') ?? 'accepted';
  if (!(MEMBER_STATUSES as readonly string[]).includes(memberStatusRaw)) {
    throw badRequest(`Invalid status: ${memberStatusRaw}`);
  }
  const limit = parseLimit(first(params, 'limit'));
  const sort = parseSort(params);

  // ImagesController.index
  const osHidden = parseBooleanFilter('os_hidden', (last(params, 'os_hidden') ?? 'false').toLowerCase());
  const protectedRaw = last(params, 'protected');
  const protectedFilter = protectedRaw === undefined ? null : parseBooleanFilter('protected', protectedRaw);

  const filters: ListFilters = {
    name: null,
    id: null,
    status: null,
    container_format: null,
    disk_format: null,
    tags: all(params, 'tag').map((t) => t.trim()),
    ranges: [],
    created_at: null,
    updated_at: null,
    protected: protectedFilter,
    os_hidden: osHidden,
    member_status: memberStatusRaw as MemberStatusFilter,
    attributes: {},
    properties: {},
  };
  if (visibilityRaw === '') filters.attributes.visibility = '';
  let owner: string | null = null;

  // _make_conditions_from_filters, in the order the keys were sent.
  for (const key of Object.keys(params)) {
    const value = last(params, key);
    if (value === undefined || CONTROL_KEYS.has(key) || IGNORED_KEYS.has(key)) continue;
    if (key === 'visibility' || key === 'changes-since' || key === 'os_hidden' || key === 'protected') continue;
    if (key.endsWith('_min') || key.endsWith('_max')) {
      const attr = key.slice(0, -4);
      if ((RANGE_KEYS as readonly string[]).includes(attr)) {
        const n = parsePythonInt(value);
        if (n === null) throw badRequest('Unable to filter on a range with a non-numeric value.');
        filters.ranges.push({ key: attr as RangeKey, bound: key.endsWith('_min') ? 'min' : 'max', value: n });
        continue;
      }
      // Glance fails with a 500 on ranges over anything else; treat such keys as custom properties.
    } else if (key === 'created_at' || key === 'updated_at') {
      filters[key] = parseTimeFilter(key, value);
      continue;
    } else if ((MATCH_FILTER_KEYS as readonly string[]).includes(key)) {
      const filter = parseMatchFilter(value);
      filters[key as MatchFilterKey] = key === 'id' ? canonicalIds(filter) : filter;
      continue;
    } else if (key === 'owner') {
      owner = value;
      continue;
    } else if ((ATTRIBUTE_FILTER_KEYS as readonly string[]).includes(key)) {
      filters.attributes[key as AttributeFilterKey] = value;
      continue;
    }
    setOwn(filters.properties, key, value);
  }

  const isDefaultSort =
    sort.length === 2 &&
    sort[0]?.key === 'created_at' && sort[0].dir === 'desc' &&
    sort[1]?.key === 'id' && sort[1].dir === 'desc';

  const marker = first(params, 'marker');
  return { limit, marker: marker === undefined ? null : canonicalId(marker), sort, filters, visibility, owner, isDefaultSort };
}

// ---------------------------------------------------------------------------------------------
// ISO 8601 (the `iso8601` package oslo's parse_isotime uses)

const ISO8601 =
  /^(\d{4})(?:(?:-(\d{1,2})|(\d{2})(?!$))(?:(?:-(\d{1,2})|(\d{2}))(?:[ T](\d{2})(?::?(\d{2}))?(?::?(\d{1,2})(?:[.,](\d+))?)?(Z|([-+])(\d{2}):?(\d{2})?)?)?)?)?$/;

/**
 * Parses what Glance accepts as a time filter (`2024-01-02T03:04:05Z`, `2024-01-02`,
 * `2024-01-02T03:04:05.5+02:00`, …); a time without zone is UTC. Null when invalid.
 */
export function parseIsoTime(value: string): Instant | null {
  const m = ISO8601.exec(value);
  if (!m) return null;
  const num = (s: string | undefined, dflt: number) => (s === undefined ? dflt : Number(s));
  const year = Number(m[1]);
  const month = num(m[2] ?? m[3], 1);
  const day = num(m[4] ?? m[5], 1);
  const hour = num(m[6], 0);
  const minute = num(m[7], 0);
  const second = num(m[8], 0);
  const micros = m[9] === undefined ? 0 : Number(m[9].slice(0, 6).padEnd(6, '0'));
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (day > daysInMonth) return null;
  let offsetMinutes = 0;
  if (m[11] !== undefined) {
    offsetMinutes = Number(m[12]) * 60 + num(m[13], 0);
    if (offsetMinutes >= 24 * 60) return null;
    if (m[11] === '-') offsetMinutes = -offsetMinutes;
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return { epochSeconds: d.getTime() / 1000 - offsetMinutes * 60, micros };
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function compareInstants(a: Instant, b: Instant): number {
  if (a.epochSeconds !== b.epochSeconds) return a.epochSeconds < b.epochSeconds ? -1 : 1;
  return a.micros === b.micros ? 0 : a.micros < b.micros ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------
// Predicate

/** Statuses Glance's list never returns (deleted rows, and `killed`). */
const UNLISTED_STATUSES: readonly string[] = ['deleted', 'pending_delete', 'killed'];

function matchValue(actual: string | null, f: MatchFilter | null): boolean {
  if (f === null) return true;
  if (actual === null) return false; // SQL: NULL = x and NULL IN (...) are never true
  return f.op === 'eq' ? actual === f.value : f.values.includes(actual);
}

function matchTime(actual: string, f: TimeFilter | null): boolean {
  if (f === null) return true;
  const at = parseIsoTime(actual);
  if (at === null) return false;
  const c = compareInstants(at, f.instant);
  switch (f.op) {
    case 'gt': return c > 0;
    case 'gte': return c >= 0;
    case 'lt': return c < 0;
    case 'lte': return c <= 0;
    case 'eq': return c === 0;
    case 'neq': return c !== 0;
  }
}

/** SQLite's comparison of an INTEGER column with a text parameter (numeric affinity). */
function numericEquals(actual: number, value: string): boolean {
  const t = value.trim();
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return false;
  return actual === Number(t);
}

function matchAttribute(image: Image, key: AttributeFilterKey, value: string): boolean {
  const actual = (image as unknown as Record<string, unknown>)[key];
  if (actual === null || actual === undefined) return false;
  if (NUMERIC_ATTRIBUTES.includes(key)) return typeof actual === 'number' && numericEquals(actual, value);
  return actual === value;
}

/**
 * Every filter of the query applied to one stored image (Glance's SQL conditions). Who may see
 * the image (owner, membership and member_status, community rules) is decided elsewhere.
 */
export function matchesListFilters(image: Image, q: ListQuery, options: { pendingDelete?: boolean } = {}): boolean {
  const f = q.filters;
  // Glance never lists pending_delete images; Skyglass lets an admin who asks for them find
  // them (status=pending_delete), to restore them.
  const unlisted = options.pendingDelete ? UNLISTED_STATUSES.filter((s) => s !== 'pending_delete') : UNLISTED_STATUSES;
  if (unlisted.includes(image.status)) return false;
  if (image.os_hidden !== f.os_hidden) return false;
  if (q.visibility !== null && q.visibility !== 'all' && image.visibility !== q.visibility) return false;
  if (q.owner !== null && image.owner !== q.owner) return false;
  if (f.protected !== null && image.protected !== f.protected) return false;
  if (!matchValue(image.name, f.name)) return false;
  if (!matchValue(image.id, f.id)) return false;
  if (!matchValue(image.status, f.status)) return false;
  if (!matchValue(image.container_format, f.container_format)) return false;
  if (!matchValue(image.disk_format, f.disk_format)) return false;
  for (const tag of f.tags) if (!image.tags.includes(tag)) return false;
  for (const r of f.ranges) {
    const actual = image[r.key];
    if (actual === null) return false;
    if (r.bound === 'min' ? actual < r.value : actual > r.value) return false;
  }
  if (!matchTime(image.created_at, f.created_at)) return false;
  if (!matchTime(image.updated_at, f.updated_at)) return false;
  for (const [key, value] of Object.entries(f.attributes) as [AttributeFilterKey, string][]) {
    if (!matchAttribute(image, key, value)) return false;
  }
  for (const key of Object.keys(f.properties)) {
    if (!Object.hasOwn(image.properties, key) || image.properties[key] !== f.properties[key]) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Ordering

/** Compares by Unicode code point (SQLite's BINARY collation on UTF-8), not UTF-16 code unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (code points above U+FFFF) must sort after U+E000..U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareValues(a: string | number | null, b: string | number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  return compareCodePoints(String(a), String(b));
}

/** Comparator for `sort`; NULL is the smallest value (SQLite): first ascending, last descending. */
export function compareImages(sort: SortKey[]): (a: Image, b: Image) => number {
  return (a, b) => {
    for (const { key, dir } of sort) {
      const c = compareValues(a[key], b[key]);
      if (c !== 0) return dir === 'asc' ? c : -c;
    }
    return 0;
  };
}

// ---------------------------------------------------------------------------------------------
// Links

/** webob's query-string parsing: `&` and `;` separate pairs, `+` is a space, bad `%xx` kept. */
export function parseQueryPairs(rawQuery: string | null): [string, string][] {
  if (!rawQuery) return [];
  const raw = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const pairs: [string, string][] = [];
  for (const piece of raw.replaceAll('+', ' ').split(/[&;]/)) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([percentDecode(name), percentDecode(value)]);
  }
  return pairs;
}

/** The raw query as QueryParams (webob semantics), for callers that only have the raw string. */
export function parseQueryString(rawQuery: string | null): QueryParams {
  const out: QueryParams = {};
  for (const [k, v] of parseQueryPairs(rawQuery)) {
    if (Object.hasOwn(out, k)) out[k]?.push(v);
    else Object.defineProperty(out, k, { value: [v], enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function percentDecode(s: string): string {
  const bytes = utf8.encode(s);
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out.push(parseInt(String.fromCharCode(bytes[i + 1] as number, bytes[i + 2] as number), 16));
      i += 2;
    } else {
      out.push(b);
    }
  }
  return utf8Decoder.decode(new Uint8Array(out));
}

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

/** Python's `urllib.parse.quote_plus` (UTF-8, only `A-Za-z0-9_.-~` left as is, space → `+`). */
export function quotePlus(s: string): string {
  let out = '';
  for (const b of utf8.encode(s)) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2e || b === 0x2d || b === 0x7e) {
      out += String.fromCharCode(b);
    } else if (b === 0x20) {
      out += '+';
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

function urlencode(params: Map<string, string>): string {
  return [...params].map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`).join('&');
}

/**
 * Glance's ResponseSerializer.index: `dict(request.params)` (a repeated key keeps the position
 * of its first occurrence and its last value), without `marker`, urlencoded. `next` (the same
 * plus `marker=<last id>` at the end) whenever the page is full.
 */
export function listLinks(
  rawQuery: string | null,
  images: { id: string }[],
  limit: number,
): { first: string; next?: string; schema: string } {
  const params = new Map<string, string>();
  for (const [k, v] of parseQueryPairs(rawQuery)) params.set(k, v);
  params.delete('marker');
  const query = urlencode(params);
  const links: { first: string; next?: string; schema: string } = {
    first: query ? `/v2/images?${query}` : '/v2/images',
    schema: '/v2/schemas/images',
  };
  const lastImage = images[images.length - 1];
  if (limit > 0 && images.length === limit && lastImage) {
    params.set('marker', lastImage.id);
    links.next = `/v2/images?${urlencode(params)}`;
  }
  return links;
}
