import type { Caller } from '../domain/caller.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import { enforceOnImage } from '../domain/image-access.js';
import type { PolicyEngine } from '../domain/policy.js';
import { imageTaskView, parseTaskListQuery, taskListBody, taskView, type Task } from '../domain/task.js';
import type { TaskRepository } from '../ports/task-repository.js';
import type { AuthorizedImages } from './authorized-images.js';

/** The image's tasks answer Glance gives for an image the caller may not see (images.py get_task_info). */
const IMAGE_TASKS_NOT_FOUND = 'The resource could not be found.';

/**
 * Glance's tasks API (glance/api/v2/tasks.py) and an image's tasks (images.py get_task_info).
 * The tasks API is behind `tasks_api_access` (admin by default) and then `get_task`,
 * `get_tasks` or `add_task`; a caller who is not admin (when an operator's policy lets one in)
 * sees only its own project's tasks, as Glance's task repository filters them.
 */
export class TaskService {
  constructor(
    private readonly tasks: TaskRepository,
    private readonly access: AuthorizedImages,
  ) {}

  /** GET /v2/images/{id}/tasks: one read of the image and its tasks; the caller's project's tasks unless admin. */
  async imageTasks(caller: Caller, imageId: string): Promise<Record<string, unknown>> {
    const { image, tasks } = await this.tasks.imageTasks(imageId);
    const found = image ? await this.access.withMembership(caller, image) : undefined;
    enforceOnImage(this.access.policy, 'get_image', caller, found, IMAGE_TASKS_NOT_FOUND);
    return { tasks: tasks.filter((t) => this.owns(caller, t)).map(imageTaskView) };
  }

  /** GET /v2/tasks/{id} */
  async show(caller: Caller, id: string): Promise<Record<string, unknown>> {
    enforceTaskRule(this.access.policy, 'get_task', caller);
    const task = await this.tasks.get(id);
    if (!task || !this.owns(caller, task)) throw notFound(`Could not find task ${id}`);
    return taskView(task);
  }

  /** GET /v2/tasks */
  async list(caller: Caller, query: Record<string, string[]>, rawQuery: string | null): Promise<Record<string, unknown>> {
    enforceTaskRule(this.access.policy, 'get_tasks', caller);
    const parsed = parseTaskListQuery(query);
    let marker: Task | undefined;
    if (parsed.marker) {
      marker = await this.tasks.get(parsed.marker);
      if (!marker || !this.owns(caller, marker)) throw badRequest(`Task with the given id ${parsed.marker} was not found`);
    }
    const owner = this.access.policy.isAdmin(caller) ? undefined : (caller.projectId ?? '');
    return taskListBody(await this.tasks.list(parsed, marker, owner), parsed, rawQuery);
  }

  private owns(caller: Caller, task: Task): boolean {
    return this.access.policy.isAdmin(caller) || (caller.projectId !== null && task.owner === caller.projectId);
  }
}

/** Glance checks the blanket tasks_api_access first, then the operation's own rule. */
export function enforceTaskRule(policy: PolicyEngine, rule: string, caller: Caller): void {
  const target = { project_id: caller.projectId, user_id: caller.userId };
  for (const name of ['tasks_api_access', rule]) {
    if (!policy.allows(name, caller, target)) throw forbidden(`You are not authorized to complete ${name} action.`);
  }
}
