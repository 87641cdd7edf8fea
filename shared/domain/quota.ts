import { GlanceError } from './errors.js';
import type { Image } from './image.js';

/**
 * Per-project quotas on Glance's unified-limits resources (glance/quota/keystone.py), counted
 * as Glance's database counts them (glance/db/sqlalchemy/api.py, `_image_get_*_by_owner`):
 *
 * - image_count_total: the owner's images that are not killed or deleted (pending_delete counts);
 * - image_count_uploading: those saving, uploading or importing;
 * - image_size_total (MiB): the size of the images whose bytes are stored (active, deactivated,
 *   and pending_delete until scrubbed);
 * - image_stage_total (MiB): the size of the images whose bytes are staged (uploading, importing).
 *
 * Where Skyglass differs, it is because it knows sizes before the bytes arrive: an open upload
 * session reserves its declared size (saving toward image_size_total, a staged session toward
 * image_stage_total), and so does a PUT /file while it is verified, so concurrent uploads are
 * refused before they overshoot, not after (Glance checks usage, with a delta of 0, before an
 * upload begins). An import (uploading → importing) counts the image toward image_size_total
 * too: Glance checks image_size_total when an import is asked for, and that is where the 413
 * comes here; the verifier that activates it then adds nothing, and never has to refuse.
 *
 * One rule covers every path: a write's usage change is `usageOf(next) - usageOf(previous)`,
 * so creates, uploads, verification, refusals, deletes, scrubs, restores and the sweepers'
 * reverts all keep the counters right without knowing about them.
 */
export const QUOTA_RESOURCES = ['image_count_total', 'image_count_uploading', 'image_size_total', 'image_stage_total'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

/** Resources measured in bytes (stored in bytes, limited and reported in MiB as Glance does). */
export const SIZE_RESOURCES: readonly QuotaResource[] = ['image_size_total', 'image_stage_total'];

export const MiB = 1024 * 1024;

/** One project's usage: counts, and sizes in bytes. */
export type Usage = Record<QuotaResource, number>;

export const NO_USAGE: Readonly<Usage> = { image_count_total: 0, image_count_uploading: 0, image_size_total: 0, image_stage_total: 0 };

/** What one image counts toward its owner's usage. */
export function usageOf(image: Image | undefined): Usage {
  if (!image || !image.owner || image.status === 'killed' || image.status === 'deleted') return { ...NO_USAGE };
  const size = image.size ?? 0;
  const reserved = image.upload?.size ?? size;
  const stored: Partial<Record<Image['status'], number>> = {
    active: size,
    deactivated: size,
    saving: reserved,
    importing: size,
    // Bytes that may be restored are still stored; a delete before verification gave them up.
    pending_delete: image.scrub?.restore_to === null ? 0 : size,
  };
  const staged: Partial<Record<Image['status'], number>> = { uploading: reserved, importing: size };
  return {
    image_count_total: 1,
    image_count_uploading: image.status === 'saving' || image.status === 'uploading' || image.status === 'importing' ? 1 : 0,
    image_size_total: stored[image.status] ?? 0,
    image_stage_total: staged[image.status] ?? 0,
  };
}

export function addUsage(a: Usage, b: Usage, sign = 1): Usage {
  const sum = { ...NO_USAGE };
  for (const r of QUOTA_RESOURCES) sum[r] = a[r] + sign * b[r];
  return sum;
}

export function isZero(usage: Usage): boolean {
  return QUOTA_RESOURCES.every((r) => usage[r] === 0);
}

/** One project's change of usage by a write. */
export interface ProjectDelta {
  project: string;
  delta: Usage;
}

/**
 * How a write from `previous` (undefined for a create) to `next` changes usage, per project:
 * one project normally, two when an admin gives the image to another owner. Empty when
 * nothing counted changes (most writes: metadata, tags, verification of a reserved upload).
 */
export function usageDeltas(previous: Image | undefined, next: Image): ProjectDelta[] {
  const before = usageOf(previous);
  const after = usageOf(next);
  const oldOwner = previous?.owner ?? null;
  const newOwner = next.owner;
  const deltas: ProjectDelta[] = [];
  if (oldOwner === newOwner) {
    if (newOwner) deltas.push({ project: newOwner, delta: addUsage(after, before, -1) });
  } else {
    if (oldOwner) deltas.push({ project: oldOwner, delta: addUsage(NO_USAGE, before, -1) });
    if (newOwner) deltas.push({ project: newOwner, delta: after });
  }
  return deltas.filter((d) => !isZero(d.delta));
}

/** Each project's usage recomputed from its images: what the auditor compares the counters with. */
export function usageByProject(images: Iterable<Image>): Map<string, Usage> {
  const totals = new Map<string, Usage>();
  for (const image of images) {
    if (!image.owner) continue;
    totals.set(image.owner, addUsage(totals.get(image.owner) ?? NO_USAGE, usageOf(image)));
  }
  return totals;
}

/** Limits as configured: counts, and sizes in MiB. Absent or -1: unlimited (Keystone's -1). */
export type Limits = Partial<Record<QuotaResource, number>>;

/** `skyglass:quotas` / QUOTAS_FILE: defaults for every project, and per-project overrides. */
export interface QuotaConfig {
  defaults: Limits;
  projects: Record<string, Limits>;
}

/** The limits of one project: each resource from its override, else the default. */
export function limitsFor(config: QuotaConfig, project: string): Limits {
  return { ...config.defaults, ...(Object.hasOwn(config.projects, project) ? config.projects[project] : {}) };
}

/** The limit in the counter's unit (bytes for sizes), or undefined when unlimited. */
export function limitInUnits(limits: Limits, resource: QuotaResource): number | undefined {
  const limit = limits[resource];
  if (limit === undefined || limit < 0) return undefined;
  return SIZE_RESOURCES.includes(resource) ? limit * MiB : limit;
}

/** A resource a write would take over its limit, in Glance's terms (MiB for sizes). */
export interface OverLimit {
  resource: QuotaResource;
  limit: number;
  usage: number;
  delta: number;
}

/**
 * The resources a delta takes over the limits from `current` usage (oslo.limit's rule: over
 * when usage + delta > limit). Only increases are checked: a write that lowers usage never fails.
 */
export function overLimits(limits: Limits, current: Usage, delta: Usage): OverLimit[] {
  const over: OverLimit[] = [];
  for (const resource of QUOTA_RESOURCES) {
    const limit = limitInUnits(limits, resource);
    if (limit === undefined || delta[resource] <= 0) continue;
    if (current[resource] + delta[resource] > limit) {
      const size = SIZE_RESOURCES.includes(resource);
      over.push({
        resource,
        limit: limits[resource]!,
        usage: size ? Math.floor(current[resource] / MiB) : current[resource],
        delta: size ? Math.ceil(delta[resource] / MiB) : delta[resource],
      });
    }
  }
  return over;
}

/**
 * Glance's 413 for a quota (glance/common/exception.py LimitExceeded, whose body is
 * oslo.limit's ProjectOverLimit message). Nothing was written when this is thrown.
 */
export class QuotaExceededError extends GlanceError {
  constructor(
    readonly project: string,
    readonly over: readonly OverLimit[],
  ) {
    const resources = over
      .map((o) => `Resource ${o.resource} is over limit of ${o.limit} due to current usage ${o.usage} and delta ${o.delta}`)
      .join(', ');
    super(
      413,
      'The request returned a 413 Request Entity Too Large. This generally means that rate limiting or a quota threshold was breached.\n\n' +
        `The response body:\nProject ${project} is over a limit for [${resources}]`,
    );
    this.name = 'QuotaExceededError';
  }
}

/**
 * GET /v2/info/usage (glance/api/v2/discovery.py get_usage). Without any quota configured
 * Glance runs with use_keystone_limits off and answers `{"usage": {}}`; so does Skyglass.
 * With quotas, every resource is shown, sizes in whole MiB, and an unlimited one as -1.
 */
export function usageView(config: QuotaConfig | undefined, project: string, usage: Usage) {
  if (!config) return { usage: {} };
  const limits = limitsFor(config, project);
  const view: Record<string, { limit: number; usage: number }> = {};
  for (const resource of QUOTA_RESOURCES) {
    const limit = limits[resource];
    const used = SIZE_RESOURCES.includes(resource) ? Math.floor(usage[resource] / MiB) : usage[resource];
    view[resource] = { limit: limit === undefined || limit < 0 ? -1 : limit, usage: used };
  }
  return { usage: view };
}

/**
 * Validates a quota configuration (CDK context `skyglass:quotas`, QUOTAS_FILE, the QUOTAS
 * variable): `{"defaults": {...}, "projects": {"<project>": {...}}}`, each limit a whole
 * number ≥ -1. Errors name `source` and the offending key.
 */
export function parseQuotaConfig(value: unknown, source: string): QuotaConfig {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}. Expected {"defaults": {"image_count_total": 100, ...}, "projects": {"<project id>": {...}}}`);
  };
  if (!isObject(value)) fail('must be a JSON object');
  const config = value as Record<string, unknown>;
  for (const key of Object.keys(config)) if (key !== 'defaults' && key !== 'projects') fail(`unknown key ${JSON.stringify(key)}`);
  const limits = (raw: unknown, where: string): Limits => {
    if (!isObject(raw)) fail(`${where} must be an object of limits`);
    const out: Limits = {};
    for (const [resource, limit] of Object.entries(raw as Record<string, unknown>)) {
      if (!(QUOTA_RESOURCES as readonly string[]).includes(resource)) {
        fail(`${where} names ${JSON.stringify(resource)}, which is not one of ${QUOTA_RESOURCES.join(', ')}`);
      }
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < -1) {
        fail(`${where}.${resource} must be a whole number (-1 for unlimited), got ${JSON.stringify(limit)}`);
      }
      out[resource as QuotaResource] = limit as number;
    }
    return out;
  };
  const projects: Record<string, Limits> = Object.create(null) as Record<string, Limits>;
  if (config.projects !== undefined) {
    if (!isObject(config.projects)) fail('"projects" must be an object from project id to limits');
    for (const [project, raw] of Object.entries(config.projects as Record<string, unknown>)) {
      if (!project) fail('"projects" has an empty project id');
      projects[project] = limits(raw, `projects.${project}`);
    }
  }
  return { defaults: config.defaults === undefined ? {} : limits(config.defaults, 'defaults'), projects };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
