import type { Caller } from './caller.js';
import { badRequest } from './errors.js';
import { isUuid, type Image } from './image.js';
import { FAILED_IMPORT } from './stores.js';

/**
 * Glance's tasks (glance/domain Task, glance/api/v2/tasks.py): the record of an import. Every
 * glance-direct import records its `api_image_import` task in the same write that moves the
 * image to importing, and the verifier's settling write finishes it (success or failure) in
 * the same transaction as the image's, so a task never says what its image does not.
 */

export const TASK_TYPES = ['import', 'api_image_import'] as const;
export type TaskType = (typeof TASK_TYPES)[number];
export const TASK_STATUSES = ['pending', 'processing', 'success', 'failure'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Glance's `[task] task_time_to_live` default: a finished task is kept this long, then expires. */
export const TASK_TIME_TO_LIVE_HOURS = 48;

/** Glance's task list page: limit_param_default and api_limit_max. */
export const TASK_LIST_DEFAULT_LIMIT = 25;
export const TASK_LIST_MAX_LIMIT = 1000;

export interface Task {
  id: string;
  type: TaskType;
  status: TaskStatus;
  /** The caller's project when the task was created (Glance's context.owner). */
  owner: string | null;
  user_id: string | null;
  /** The X-Openstack-Request-Id of the request that created it (Tempest compares them). */
  request_id: string | null;
  image_id: string | null;
  input: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  message: string;
  /** ISO-8601 with milliseconds, UTC: shown as Glance shows task times (whole seconds, or microseconds on the image's list). */
  created_at: string;
  updated_at: string;
  /** Set when the task finishes: then + TASK_TIME_TO_LIVE_HOURS. Null while it runs. */
  expires_at: string | null;
  version: number;
}

/** The stored time of a task event (milliseconds kept: Glance shows microseconds on GET /v2/images/{id}/tasks). */
export function taskTimestamp(now: Date): string {
  return now.toISOString();
}

/** When a task finished at `now` expires. */
export function taskExpiry(now: Date): string {
  return new Date(now.getTime() + TASK_TIME_TO_LIVE_HOURS * 3600_000).toISOString();
}

/** Whether a task is past its expiry: Glance lists and shows only unexpired tasks (DynamoDB's TTL removes items late). */
export function isExpired(task: Task, now: Date): boolean {
  return task.expires_at !== null && task.expires_at <= now.toISOString();
}

/** `2026-11-23T22:50:26Z`: how GET /v2/tasks and /v2/tasks/{id} show times. */
function wholeSeconds(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** `2026-11-23T22:50:26.433000`: how GET /v2/images/{id}/tasks shows them (Glance's raw DB values). */
function microseconds(iso: string): string {
  return iso.replace(/(\.\d{3})Z$/, '$1000').replace(/:(\d\d)Z$/, ':$1.000000');
}

const taskLinks = (id: string) => ({ self: `/v2/tasks/${id}`, schema: '/v2/schemas/task' });
const expiry = (task: Task) => (task.expires_at ? { expires_at: wholeSeconds(task.expires_at) } : {});

/** GET /v2/tasks/{id} and the 201 of POST /v2/tasks (Glance omits expires_at until it is set). */
export function taskView(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    input: task.input,
    type: task.type,
    status: task.status,
    owner: task.owner,
    message: task.message,
    result: task.result,
    created_at: wholeSeconds(task.created_at),
    updated_at: wholeSeconds(task.updated_at),
    ...taskLinks(task.id),
    image_id: task.image_id,
    request_id: task.request_id,
    user_id: task.user_id,
    ...expiry(task),
  };
}

/** One entry of GET /v2/tasks: no input, result or message. */
export function taskListEntry(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    owner: task.owner,
    created_at: wholeSeconds(task.created_at),
    updated_at: wholeSeconds(task.updated_at),
    ...taskLinks(task.id),
    ...expiry(task),
  };
}

/** One entry of GET /v2/images/{id}/tasks: Glance serializes the database row (microseconds, deleted flags, no links). */
export function imageTaskView(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    owner: task.owner,
    expires_at: task.expires_at ? microseconds(task.expires_at) : null,
    created_at: microseconds(task.created_at),
    updated_at: microseconds(task.updated_at),
    deleted_at: null,
    deleted: false,
    image_id: task.image_id,
    request_id: task.request_id,
    user_id: task.user_id,
    input: task.input,
    result: task.result,
    message: task.message,
  };
}

/** Who is asking, and what for: the import that records the task. */
export interface TaskOrigin {
  projectId: string | null;
  userId: string | null;
  requestId: string | null;
}

/** Who asks, as a task records it. */
export function taskOrigin(caller: Caller, requestId: string | null): TaskOrigin {
  return { projectId: caller.projectId, userId: caller.userId, requestId };
}

/** A task's `input` and `result` are stored on its items: bounded, so no import body can outgrow an item (400 KB). */
export const MAX_TASK_INPUT_CHARS = 16_384;

/** The import request as the task's `input.import_req` records it (Glance keeps the body as sent). */
export function importRequestOf(body: unknown): Record<string, unknown> {
  const request = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (JSON.stringify(request).length > MAX_TASK_INPUT_CHARS) throw badRequest(`The import request is larger than ${MAX_TASK_INPUT_CHARS} characters of JSON.`);
  return request;
}

/** The `api_image_import` task a glance-direct import records, processing from the start (the verification is started next). */
export function importTask(id: string, image: Image, importRequest: Record<string, unknown>, origin: TaskOrigin, now: Date): Task {
  return runningTask(id, 'api_image_import', image.id, { image_id: image.id, import_req: importRequest }, origin, now);
}

/** A task of `imageId` that starts processing now: unfinished, so it has no result and no expiry yet. */
function runningTask(id: string, type: TaskType, imageId: string, input: Record<string, unknown>, origin: TaskOrigin, now: Date): Task {
  const at = taskTimestamp(now);
  return {
    id,
    type,
    status: 'processing',
    owner: origin.projectId,
    user_id: origin.userId,
    request_id: origin.requestId,
    image_id: imageId,
    input,
    result: null,
    message: '',
    created_at: at,
    updated_at: at,
    expires_at: null,
    version: 1,
  };
}

/** What finishes a task: its final status, message and result. */
export interface TaskSettlement {
  task_id: string;
  image_id: string | null;
  status: 'success' | 'failure';
  message: string;
  result: Record<string, unknown> | null;
  updated_at: string;
  expires_at: string;
}

const MIB = 1024 * 1024;

/**
 * How a write of an image that was importing finishes its import task, if it does: active is
 * success ("Copied N MiB", as Glance's import flow says), anything else (refused back to queued,
 * deleted while importing) is failure with the reason. A write that keeps the image importing
 * leaves the task running.
 */
export function importTaskSettlement(previous: Image, next: Image, now: Date): TaskSettlement | undefined {
  const taskId = previous.task_id;
  if (!taskId || next.status === 'importing') return undefined;
  // A copy-image import keeps the image active (or deactivated) while it runs: its task ends
  // with the write that clears its targets (shared/domain/stores.ts copyRecorded).
  const copy = previous.status === 'active' || previous.status === 'deactivated';
  if (copy && (next.status === 'active' || next.status === 'deactivated') && next.import_targets) return undefined;
  const common = { task_id: taskId, image_id: previous.id, updated_at: taskTimestamp(now), expires_at: taskExpiry(now) };
  if (copy && (next.status === 'active' || next.status === 'deactivated')) {
    const failed = typeof next.properties[FAILED_IMPORT] === 'string' ? next.properties[FAILED_IMPORT] : '';
    const targets = previous.import_targets;
    const reachedAny = !!targets && targets.stores.some((id) => next.stores?.includes(id));
    const refused = failed !== '' && (!targets || targets.all_stores_must_succeed || !reachedAny);
    if (refused) return { ...common, status: 'failure', message: `The image could not be copied to store(s) ${failed}.`, result: null };
    return { ...common, status: 'success', message: `Copied ${Math.floor((next.size ?? 0) / MIB)} MiB`, result: { image_id: previous.id } };
  }
  if (next.status === 'active') {
    return { ...common, status: 'success', message: `Copied ${Math.floor((next.size ?? 0) / MIB)} MiB`, result: { image_id: previous.id } };
  }
  const message =
    next.status === 'queued' ? (next.failure ?? 'The import failed.') : `Image ${previous.id} was ${next.status === 'pending_delete' || next.status === 'deleted' ? 'deleted' : `moved to ${next.status}`} before its import finished.`;
  return { ...common, status: 'failure', message, result: null };
}

/** A task as it is after its settlement. */
export function settled(task: Task, settlement: TaskSettlement): Task {
  return { ...task, status: settlement.status, message: settlement.message, result: settlement.result, updated_at: settlement.updated_at, expires_at: settlement.expires_at, version: task.version + 1 };
}

/** A POST /v2/tasks body, as Glance's tasks RequestDeserializer reads it. */
export interface TaskRequest {
  type: TaskType;
  input: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Glance's checks on POST /v2/tasks: type and input present, type in the schema's enum, input an object, an import's URI http(s). */
export function parseTaskRequest(body: unknown): TaskRequest {
  const fields = isObject(body) ? body : {};
  if (!Object.hasOwn(fields, 'type')) throw badRequest("Task 'type' is required");
  if (!Object.hasOwn(fields, 'input')) throw badRequest("Task 'input' is required");
  const { type, input } = fields;
  if (typeof type !== 'string' || !(TASK_TYPES as readonly string[]).includes(type)) {
    throw badRequest(`Provided object does not match schema 'task': ${JSON.stringify(type)} is not one of ['import', 'api_image_import']`);
  }
  if (!isObject(input)) throw badRequest(`Provided object does not match schema 'task': ${JSON.stringify(input)} is not of type 'null', 'object'`);
  if (JSON.stringify(input).length > MAX_TASK_INPUT_CHARS) throw badRequest(`Task 'input' is larger than ${MAX_TASK_INPUT_CHARS} characters of JSON.`);
  if (type === 'import') {
    const uri = input.import_from;
    if (typeof uri !== 'string' || !/^https?:\/\/[^\s/]+/i.test(uri)) {
      throw badRequest("The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http', 'https']");
    }
  }
  return { type: type as TaskType, input };
}

/** The fields Glance's legacy import flow needs in its input (glance/common/scripts/utils.py unpack_task_input). */
const LEGACY_IMPORT_FIELDS = ['import_from', 'import_from_format', 'image_properties'] as const;

/**
 * Why a legacy `import` task cannot run, as Glance's flow fails it (the POST still answers 201;
 * the task is failure with this message), or undefined when it can.
 */
export function legacyImportProblem(input: Record<string, unknown>): string | undefined {
  const missing = LEGACY_IMPORT_FIELDS.find((key) => !Object.hasOwn(input, key));
  if (missing) return `Input does not contain '${missing}' field`;
  if (!isObject(input.image_properties)) return "Input field 'image_properties' must be an object";
  return undefined;
}

/**
 * The legacy `import` task POST /v2/tasks runs (Glance's base_import flow): the image it made
 * is its `image_id`, and it is processing from the start (the fetch is started next); the
 * verifier's settling write finishes it with `result: {image_id}`, as Glance's flow does.
 */
export function legacyImportTask(id: string, request: TaskRequest, imageId: string, origin: TaskOrigin, now: Date): Task {
  return runningTask(id, 'import', imageId, request.input, origin, now);
}

/**
 * A task POST /v2/tasks records as failed at once, with the reason, expiring like any finished
 * task; nothing else is written. An `api_image_import` task is what POST
 * /v2/images/{id}/import records, so it cannot run from here; a legacy `import` whose input
 * Glance's flow would refuse (legacyImportProblem) fails the same way.
 */
export function refusedTask(id: string, request: TaskRequest, origin: TaskOrigin, now: Date, reason?: string): Task {
  const at = taskTimestamp(now);
  const message = reason ?? 'An api_image_import task is recorded by POST /v2/images/{image_id}/import; it cannot be created on its own.';
  return {
    id,
    type: request.type,
    status: 'failure',
    owner: origin.projectId,
    user_id: origin.userId,
    request_id: origin.requestId,
    // Not the image's task (its import records that one): it is listed under no image.
    image_id: null,
    input: request.input,
    result: null,
    message,
    created_at: at,
    updated_at: at,
    expires_at: taskExpiry(now),
    version: 1,
  };
}

/** GET /v2/tasks parameters Skyglass serves (Glance's, with the order an index keeps). */
export const TASK_SORT_KEYS = ['id', 'type', 'status', 'created_at', 'updated_at'] as const;
export type TaskSortKey = (typeof TASK_SORT_KEYS)[number];

export interface TaskListQuery {
  limit: number;
  marker: string | undefined;
  /** created_at is the indexed order; the others are sorted in the function (glanceclient's task-list asks for status). */
  sortKey: TaskSortKey;
  /** Ascending; created_at and then id break ties in the same direction, as Glance's paginate_query does. */
  forward: boolean;
  status: TaskStatus | undefined;
  type: TaskType | undefined;
}

/**
 * Glance's checks on GET /v2/tasks (glance/api/v2/tasks.py RequestDeserializer.index).
 */
export function parseTaskListQuery(query: Record<string, string[]>): TaskListQuery {
  const one = (key: string) => query[key]?.at(-1);
  const rawLimit = one('limit');
  let limit = TASK_LIST_DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!/^-?\d+$/.test(rawLimit.trim())) throw badRequest('limit param must be an integer');
    limit = Number(rawLimit);
    if (limit < 0) throw badRequest('limit param must be positive');
    limit = Math.min(limit, TASK_LIST_MAX_LIMIT);
  }
  const marker = one('marker');
  if (marker !== undefined && !isUuid(marker)) throw badRequest('Invalid marker format');
  const sortKey = one('sort_key') ?? 'created_at';
  if (!(TASK_SORT_KEYS as readonly string[]).includes(sortKey)) throw badRequest('Sort key supplied was not valid.');
  const dir = one('sort_dir') ?? 'desc';
  if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Invalid sort direction: ${dir}`);
  const status = one('status');
  if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) throw badRequest(`Invalid status value: ${status}`);
  const type = one('type');
  if (type !== undefined && !(TASK_TYPES as readonly string[]).includes(type)) throw badRequest(`Invalid type value: ${type}`);
  return { limit, marker: marker?.toLowerCase(), sortKey: sortKey as TaskSortKey, forward: dir === 'asc', status: status as TaskStatus | undefined, type: type as TaskType | undefined };
}

/** Glance's order of tasks for a list: the sort key, then created_at, then id, all in the one direction. */
export function compareTasks(sortKey: TaskSortKey, forward: boolean): (a: Task, b: Task) => number {
  const keys: TaskSortKey[] = [sortKey, 'created_at', 'id'];
  return (a, b) => {
    for (const key of keys) {
      const x = String(a[key]);
      const y = String(b[key]);
      if (x !== y) return (x < y ? -1 : 1) * (forward ? 1 : -1);
    }
    return 0;
  };
}

/** Glance's `next`: present whenever the page is full, the query as sent plus the last task's id. */
export function taskListBody(tasks: readonly Task[], query: TaskListQuery, rawQuery: string | null): Record<string, unknown> {
  const sent = (rawQuery ?? '').split('&').filter((p) => p && !p.startsWith('marker='));
  const body: Record<string, unknown> = {
    tasks: tasks.map(taskListEntry),
    first: rawQuery ? `/v2/tasks?${rawQuery}` : '/v2/tasks',
    schema: '/v2/schemas/tasks',
  };
  const last = tasks.at(-1);
  if (last && query.limit > 0 && tasks.length === query.limit) body.next = `/v2/tasks?${[...sent, `marker=${last.id}`].join('&')}`;
  return body;
}

const UUID_SCHEMA_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

/** The properties Glance's task schema and its list entries share. */
function taskProperties(withBlobs: boolean): Record<string, unknown> {
  return {
    id: { description: 'An identifier for the task', pattern: UUID_SCHEMA_PATTERN, type: 'string' },
    type: { description: 'The type of task represented by this content', enum: [...TASK_TYPES], type: 'string' },
    status: { description: 'The current status of this task', enum: [...TASK_STATUSES], type: 'string' },
    ...(withBlobs
      ? {
          input: { description: 'The parameters required by task, JSON blob', type: ['null', 'object'] },
          result: { description: 'The result of current task, JSON blob', type: ['null', 'object'] },
        }
      : {}),
    owner: { description: 'An identifier for the owner of this task', type: 'string' },
    ...(withBlobs ? { message: { description: 'Human-readable informative message only included when appropriate (usually on failure)', type: 'string' } } : {}),
    image_id: { description: 'Image associated with the task', type: 'string' },
    request_id: { description: 'Human-readable informative request-id', type: 'string' },
    user_id: { description: 'User associated with the task', type: 'string' },
    expires_at: { description: 'Datetime when this resource would be subject to removal', type: ['null', 'string'] },
    created_at: { description: 'Datetime when this resource was created', type: 'string' },
    updated_at: { description: 'Datetime when this resource was updated', type: 'string' },
    self: { readOnly: true, type: 'string' },
    schema: { readOnly: true, type: 'string' },
  };
}

/** GET /v2/schemas/task, as Glance 25 serves it. */
export function taskSchema(): Record<string, unknown> {
  return { name: 'task', properties: taskProperties(true) };
}

/** GET /v2/schemas/tasks, as Glance 25 serves it (its entries have no input, result or message). */
export function tasksSchema(): Record<string, unknown> {
  return {
    name: 'tasks',
    properties: { tasks: { type: 'array', items: { name: 'task', properties: taskProperties(false) } }, schema: { type: 'string' } },
    links: [{ rel: 'describedby', href: '{schema}' }],
  };
}
